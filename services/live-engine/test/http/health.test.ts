import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { pino } from 'pino';
import { buildEngine, type Engine } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { healthHandler } from '../../src/http/health.js';
import { openInfra, type Infra } from '../support.js';

describe('engine health and metrics endpoints', () => {
  let infra: Infra;
  let engine: Engine;
  let server: Server;
  let base: string;

  before(async () => {
    infra = await openInfra();
    const config = loadConfig({ NATS_NAMESPACE: infra.namespace, CLICKHOUSE_DB: infra.db });
    engine = buildEngine({ config, nc: infra.nc, clickhouse: infra.ch, log: pino({ level: 'silent' }) });
    server = createServer(healthHandler(engine));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await engine.stop();
    await new Promise((resolve) => server.close(resolve));
    await infra.close();
  });

  it('answers /healthz with ok while alive', async () => {
    const res = await fetch(`${base}/healthz`);
    expect([res.status, await res.json()]).to.deep.equal([200, { status: 'ok' }]);
  });

  it('is not ready before start, ready after, and not ready again once stopping', async () => {
    expect((await fetch(`${base}/readyz`)).status).to.equal(503);
    await engine.start();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.include({ status: 'ok', nats: 'ok', clickhouse: 'ok', degraded: [] });
    await engine.stop();
    expect((await fetch(`${base}/readyz`)).status).to.equal(503);
  });

  it('exposes live actors, ratings, rank time, ClickHouse batches, pending and event-loop lag on /metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'pulse_engine_live_actors',
      'pulse_engine_ratings_processed_total',
      'pulse_engine_rank_compute_seconds',
      'pulse_engine_clickhouse_batch_rows',
      'pulse_engine_clickhouse_insert_seconds',
      'pulse_engine_consumer_pending',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text).to.contain(`# TYPE ${name}`);
    }
  });
});
