import { expect } from 'chai';
import Router from '@koa/router';
import type Koa from 'koa';
import { TestApi } from './harness.js';

/** Test-only routes: one that outlives the handler timeout in JavaScript, one that sleeps in PostgreSQL. */
function slowRoutes(app: Koa, api: TestApi): void {
  const router = new Router();
  router.get('/test/sleep-js', async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    ctx.body = { slept: true };
  });
  router.get('/test/sleep-sql', async (ctx) => {
    await api.orm.em.getConnection().execute('select pg_sleep(3)');
    ctx.body = { slept: true };
  });
  app.use(router.routes());
}

describe('no request runs forever (issue 11)', () => {
  describe('the handler timeout', () => {
    let api: TestApi;
    before(async () => {
      api = await TestApi.start({ REQUEST_TIMEOUT_MS: '300' }, { extend: slowRoutes });
    });
    after(() => api.close());

    it('answers 503 UNAVAILABLE with retry-after when a handler exceeds REQUEST_TIMEOUT_MS', async () => {
      const started = Date.now();
      const res = await api.call('GET', '/test/sleep-js');
      expect(res.status).to.equal(503);
      expect(res.body.error.code).to.equal('UNAVAILABLE');
      expect(res.body.error.details).to.deep.equal({ timeoutMs: 300 });
      expect(res.headers.get('retry-after')).to.equal('1');
      expect(Date.now() - started).to.be.below(2_000);
    });

    it('leaves fast requests alone', async () => {
      expect((await api.call('GET', '/healthz')).status).to.equal(200);
    });
  });

  describe('the PostgreSQL statement timeout', () => {
    let api: TestApi;
    before(async () => {
      api = await TestApi.start({ DATABASE_STATEMENT_TIMEOUT_MS: '200' }, { extend: slowRoutes });
    });
    after(() => api.close());

    it('cancels a statement after DATABASE_STATEMENT_TIMEOUT_MS and answers 503, not 500', async () => {
      const started = Date.now();
      const res = await api.call('GET', '/test/sleep-sql');
      expect(res.status, JSON.stringify(res.body)).to.equal(503);
      expect(res.body.error.code).to.equal('UNAVAILABLE');
      expect(res.body.error.details).to.deep.equal({ dependency: 'postgresql' });
      expect(Date.now() - started).to.be.below(2_000);
      const setting = await api.orm.em.getConnection().execute('show statement_timeout');
      expect(setting[0].statement_timeout).to.equal('200ms');
    });

    it('cancels a real route’s statement that waits on a lock', async () => {
      const trainee = await api.user('trainee');
      const knex = api.orm.em.getConnection().getKnex();
      const trx = await knex.transaction();
      try {
        await trx.raw('set local statement_timeout = 0');
        await trx.raw('lock table app_user in access exclusive mode');
        const res = await api.call('GET', '/v1/me', { token: trainee.token });
        expect(res.status, JSON.stringify(res.body)).to.equal(503);
        expect(res.body.error.code).to.equal('UNAVAILABLE');
      } finally {
        await trx.rollback();
      }
      expect((await api.call('GET', '/v1/me', { token: trainee.token })).status).to.equal(200);
    });
  });
});
