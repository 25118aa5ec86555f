import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MikroORM } from '@mikro-orm/postgresql';
import { pino } from 'pino';
import { buildApi } from '../src/app.js';
import { ENTITIES } from '../src/db/orm.js';
import { openClickHouse } from '../src/infra/clickhouse.js';
import { TestApi } from './harness.js';

describe('health, readiness and metrics', () => {
  let api: TestApi;
  before(async () => {
    api = await TestApi.start();
  });
  after(() => api.close());

  it('is alive and ready when every dependency answers', async () => {
    expect((await api.call('GET', '/healthz')).body).to.deep.equal({ status: 'ok' });
    const ready = await api.call('GET', '/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body.checks).to.deep.equal({ postgresql: 'up', nats: 'up', clickhouse: 'up', redis: 'up' });
  });

  it('exposes process metrics and the HTTP latency histogram by route', async () => {
    await api.call('GET', '/v1/me');
    const metrics = await api.call('GET', '/metrics');
    expect(metrics.status).to.equal(200);
    expect(metrics.body).to.contain('nodejs_eventloop_lag_seconds');
    expect(metrics.body).to.contain('process_cpu_seconds_total');
    expect(metrics.body).to.match(/pulse_api_http_request_duration_seconds_bucket\{.*route="\/healthz"/);
  });

  it('is not ready, naming the dependency, and answers 503 UNAVAILABLE when PostgreSQL and ClickHouse are down', async () => {
    const deadOrm = await MikroORM.init({
      clientUrl: 'postgres://postgres@127.0.0.1:1/pulse',
      entities: ENTITIES,
      connect: false,
      allowGlobalContext: false,
      pool: { min: 0, max: 1 },
      driverOptions: { acquireConnectionTimeout: 2_000 },
    });
    const deadClickHouse = openClickHouse('http://127.0.0.1:1');
    const app = buildApi({
      config: api.config,
      logger: pino({ level: 'silent' }),
      orm: deadOrm,
      nats: api.nats,
      redis: api.redis,
      clickhouse: deadClickHouse,
      outbox: api.outbox,
    });
    const server = createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).to.equal(503);
      const body = (await ready.json()) as { status: string; down: string[]; degraded: string[] };
      expect(body).to.deep.include({ status: 'unavailable', down: ['postgresql'], degraded: ['clickhouse'] });
      const trainer = await api.user('trainer');
      const res = await fetch(`${url}/v1/sessions`, {
        headers: { authorization: `Bearer ${trainer.token}` },
      });
      expect(res.status).to.equal(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('UNAVAILABLE');
    } finally {
      server.close();
      await deadOrm.close(true);
      await deadClickHouse.close();
    }
  });
});
