import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { pacedLoad } from '../src/modes/paced-load.js';

describe('pacedLoad', () => {
  it('sends rate × duration requests spread over the duration, counting non-2xx and latency from when each was due', async () => {
    const arrivals: number[] = [];
    const server = createServer((req, res) => {
      arrivals.push(performance.now());
      // Every 10th request stalls 200 ms: the requests due meanwhile are charged for the wait.
      const stall = arrivals.length % 10 === 0 ? 200 : 0;
      setTimeout(() => {
        res.statusCode = req.url === '/missing' ? 404 : 200;
        res.end('{}');
      }, stall);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let n = 0;
    try {
      const r = await pacedLoad({
        url,
        rate: 100,
        durationSec: 1,
        connections: 1,
        next: () => ({ method: 'GET', path: n++ % 25 === 0 ? '/missing' : '/ok', headers: {} }),
      });
      expect(r.requests).to.equal(100);
      expect(arrivals).to.have.length(100);
      expect(r.non2xx).to.equal(4);
      expect(r.errors).to.equal(0);
      // One connection and a 200 ms stall every 10 requests: far behind schedule, and the tail says so.
      expect(r.latency.max).to.be.greaterThan(200);
      expect(r.latency.p50).to.be.greaterThan(50);
      const spreadMs = arrivals[9] - arrivals[0];
      expect(spreadMs, 'the first 10 requests are paced 10 ms apart, not sent at once').to.be.greaterThan(60);
    } finally {
      server.close();
    }
  });
});
