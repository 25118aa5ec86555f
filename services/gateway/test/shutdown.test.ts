import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { CloseCode } from '@pulse/contracts';
import {
  NatsWorld,
  TestClient,
  sessionSnapshot,
  signTicket,
  startGateway,
  type RunningGateway,
} from './harness.js';

describe('Gateway health and graceful shutdown', () => {
  let world: NatsWorld;

  before(async () => {
    world = await NatsWorld.start();
  });
  after(() => world.stop());

  it('answers healthz, readyz and metrics with the gateway metrics', async () => {
    const gw = await startGateway(world);
    try {
      const health = await fetch(`${gw.httpUrl}/healthz`);
      expect([health.status, await health.json()]).to.deep.equal([200, { status: 'ok' }]);
      const ready = await fetch(`${gw.httpUrl}/readyz`);
      expect([ready.status, await ready.json()]).to.deep.equal([
        200,
        { status: 'ready', checks: { nats: 'up' }, down: [], degraded: [], details: { connections: 0 } },
      ]);
      const metrics = await (await fetch(`${gw.httpUrl}/metrics`)).text();
      for (const name of [
        'pulse_gateway_open_connections',
        'pulse_gateway_ratings_received_total',
        'pulse_gateway_publish_latency_seconds',
        'pulse_gateway_rank_frames_dropped_total',
        'pulse_gateway_rating_to_rank_seconds',
        'pulse_gateway_rank_frame_interval_seconds',
        'pulse_gateway_rank_snapshot_age_seconds',
        'nodejs_eventloop_lag_seconds',
      ]) {
        expect(metrics).to.contain(name);
      }
    } finally {
      await gw.gateway.close();
    }
  });

  it('turns readyz to 503, closes clients with 1012 and refuses new upgrades on close', async () => {
    const gw = await startGateway(world);
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const userId = randomUUID();
    const client = TestClient.open(gw, signTicket({ sessionId: session.id, userId }));
    await client.next('welcome');
    client.send({ type: 'rating', seq: 1, energy: 50 });
    client.send({ type: 'ping' });
    await client.next('pong'); // the rating is in the publisher now (frames are handled in order)
    const closing = gw.gateway.close();
    const ready = await fetch(`${gw.httpUrl}/readyz`).catch(() => null);
    if (ready) {
      expect(ready.status).to.equal(503);
      expect(await ready.json()).to.deep.include({ status: 'draining', checks: { nats: 'up' } });
    }
    expect((await client.closed).code).to.equal(CloseCode.RECONNECT);
    const late = TestClient.open(gw, signTicket({ sessionId: session.id }));
    expect((await late.closed).code).to.equal(1006);
    await closing;
    // The rating in flight when close began was stored before close resolved.
    const stored = await world.storedRatings(session.id, userId);
    expect(stored).to.have.length(1);
  });

  it('closes clients with 1012 and exits 0 when the process gets SIGTERM', async () => {
    const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, GATEWAY_PORT: '0', NATS_NAMESPACE: world.names.namespace, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let output = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += String(chunk);
          const match = /"port":(\d+)/.exec(output);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', () => reject(new Error(`gateway exited early: ${output}`)));
      });
      const gw = { url: `ws://127.0.0.1:${port}/v1/live` } as RunningGateway;
      const client = TestClient.open(gw, signTicket({ sessionId: randomUUID() }));
      await client.next('welcome');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await client.closed).code).to.equal(CloseCode.RECONNECT);
      expect((await exited)[0]).to.equal(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('spreads its 1012 closes over GATEWAY_DRAIN_MS instead of closing every socket at once (issue 14)', async () => {
    const gw = await startGateway(world, { GATEWAY_DRAIN_MS: '800' });
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const clients = Array.from({ length: 20 }, () =>
      TestClient.open(gw, signTicket({ sessionId: session.id, userId: randomUUID() })),
    );
    await Promise.all(clients.map((c) => c.next('welcome')));
    const startedAt = Date.now();
    const closes = clients.map((c) =>
      c.closed.then(({ code }) => ({ code, afterMs: Date.now() - startedAt })),
    );
    await gw.gateway.close();
    const closed = await Promise.all(closes);
    expect(new Set(closed.map((c) => c.code))).to.deep.equal(new Set([CloseCode.RECONNECT]));
    const times = closed.map((c) => c.afterMs).sort((a, b) => a - b);
    expect(times.at(-1)! - times[0], `close times ${times.join(', ')}`).to.be.at.least(200);
    expect(times.at(-1)).to.be.below(800 + 2_000);
  });
});
