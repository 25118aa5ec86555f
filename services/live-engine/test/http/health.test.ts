import { createServer, type Server } from 'node:http';
import {
  createServer as createTcpServer,
  connect as tcpConnect,
  type Server as TcpServer,
  type Socket,
} from 'node:net';
import type { AddressInfo } from 'node:net';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { expect } from 'chai';
import { pino } from 'pino';
import { buildEngine, type Engine } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { healthHandler } from '../../src/http/health.js';
import { eventually, openInfra, type Infra } from '../support.js';

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
    expect(await ready.json()).to.deep.include({
      status: 'ready',
      checks: { nats: 'up', clickhouse: 'up', membership: 'up', started: 'up' },
      down: [],
      degraded: [],
    });
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

  it('stays ready (200 degraded) while ClickHouse is unreachable, and ok again once it answers', async () => {
    const proxy = new TcpProxy(8123);
    const port = await proxy.open(0);
    const clickhouse = createClient({
      url: `http://127.0.0.1:${port}`,
      request_timeout: 2_000,
      log: { level: ClickHouseLogLevel.OFF },
    });
    const config = loadConfig({
      NATS_NAMESPACE: infra.namespace,
      CLICKHOUSE_DB: infra.db,
      ENGINE_ID: 'health-ch',
    });
    const other = buildEngine({ config, nc: infra.nc, clickhouse, log: pino({ level: 'silent' }) });
    const otherServer = createServer(healthHandler(other));
    await new Promise<void>((resolve) => otherServer.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(otherServer.address() as AddressInfo).port}/readyz`;
    try {
      await other.start();
      expect((await fetch(url)).status).to.equal(200);
      await proxy.close();
      const down = await fetch(url);
      const body = (await down.json()) as {
        status: string;
        checks: Record<string, string>;
        degraded: string[];
      };
      expect([down.status, body.status, body.checks.clickhouse]).to.deep.equal([200, 'degraded', 'down']);
      expect(body.degraded).to.include('clickhouse');
      await proxy.open(port);
      await eventually(
        async () => ((await (await fetch(url)).json()) as { status: string }).status === 'ready' || undefined,
      );
    } finally {
      await other.stop();
      await new Promise((resolve) => otherServer.close(resolve));
      await clickhouse.close();
      await proxy.close();
    }
  });
});

/** Forwards TCP to the local ClickHouse; closing it (and its sockets) makes ClickHouse unreachable. */
class TcpProxy {
  private server: TcpServer | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(private readonly targetPort: number) {}

  async open(port: number): Promise<number> {
    const server = createTcpServer((client) => {
      const upstream = tcpConnect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}
