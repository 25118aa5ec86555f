import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import { LoadDevice } from '../src/client/load-device.js';

describe('LoadDevice.start', () => {
  let server: Server;
  let url: string;

  before(async () => {
    // What a device meets when its gateway URL leads to another service: a plain 404 to its upgrade.
    server = createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/v1/live`;
  });
  after(() => server.close());

  it('gives up after its sockets are lost before a welcome, saying what the last one met', async () => {
    const device = new LoadDevice(url, 'ticket');
    const err = await device.start(10_000, 3).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.equal(
      'closed 1006 before welcome (3 times, last socket error: Unexpected server response: 404)',
    );
    await device.close();
  });
});
