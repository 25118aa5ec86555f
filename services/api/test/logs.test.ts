import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import Router from '@koa/router';
import { createLogger } from '@pulse/runtime';
import { TestApi } from './harness.js';

/** A pino destination that keeps every line. */
class CapturedLog {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  get text(): string {
    return this.lines.join('');
  }
  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

describe('api logs', () => {
  const log = new CapturedLog();
  let api: TestApi;

  before(async () => {
    api = await TestApi.start(
      {},
      { logger: createLogger({ level: 'trace', base: { service: 'api' } }, log) },
    );
  });
  after(() => api.close());

  it('never write the password, access tokens or refresh tokens of register, login and refresh', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const email = `log-${randomBytes(4).toString('hex')}@example.test`;
    const register = await api.call('POST', '/v1/auth/register', {
      body: { email, password, name: 'Logan', role: 'trainee' },
    });
    expect(register.status).to.equal(201);
    const wrong = await api.call('POST', '/v1/auth/login', { body: { email, password: `${password}x` } });
    expect(wrong.status).to.equal(401);
    const login = await api.call('POST', '/v1/auth/login', { body: { email, password } });
    expect(login.status).to.equal(200);
    const refreshed = await api.call('POST', '/v1/auth/refresh', {
      body: { refreshToken: login.body.refreshToken },
    });
    expect(refreshed.status).to.equal(200);
    const reused = await api.call('POST', '/v1/auth/refresh', {
      body: { refreshToken: login.body.refreshToken },
    });
    expect(reused.status).to.equal(401);
    const me = await api.call('GET', '/v1/me', {
      token: refreshed.body.accessToken,
      headers: { 'x-request-id': 'req-logs-1' },
    });
    expect(me.status).to.equal(200);
    const inQuery = `q-${randomBytes(8).toString('hex')}`;
    const queried = await api.call('GET', `/v1/me?access_token=${inQuery}&ticket=${inQuery}`, {
      token: refreshed.body.accessToken,
    });
    expect(queried.status).to.equal(200);

    const secrets = [
      inQuery,
      password,
      register.body.accessToken,
      register.body.refreshToken,
      login.body.accessToken,
      login.body.refreshToken,
      refreshed.body.accessToken,
      refreshed.body.refreshToken,
    ];
    for (const secret of secrets) {
      expect(secret).to.be.a('string').with.length.above(8);
      expect(log.text.includes(secret), 'a secret in the log').to.equal(false);
    }
    const requests = log.records().filter((r) => r.msg === 'request');
    expect(requests.length).to.be.at.least(6);
    for (const r of requests) expect(r.requestId, JSON.stringify(r)).to.be.a('string');
    const mine = requests.find((r) => r.requestId === 'req-logs-1');
    expect(mine).to.include({ method: 'GET', path: '/v1/me', route: '/v1/me', status: 200, service: 'api' });
    expect(mine?.ms).to.be.a('number');
  });

  it('redact credentials wherever a log line carries them, also in a query string', () => {
    const out = new CapturedLog();
    const logger = createLogger({ level: 'info' }, out);
    logger.info(
      {
        req: { headers: { authorization: 'Bearer s3cr3t-a' } },
        body: { password: 's3cr3t-b', refreshToken: 's3cr3t-c', accessToken: 's3cr3t-d' },
        url: '/v1/live?x=1&ticket=s3cr3t-e',
      },
      'incoming',
    );
    logger.info({ password: 's3cr3t-f', authorization: 's3cr3t-g', ticket: 's3cr3t-h' }, 'flat');
    expect(out.text).to.not.match(/s3cr3t/);
    expect(out.records()[0].url).to.equal('/v1/live?x=1&ticket=[redacted]');
    expect(out.text).to.contain('[redacted]');
  });
});

describe('api logs of failing queries (issue 11)', () => {
  const log = new CapturedLog();
  let api: TestApi;

  before(async () => {
    api = await TestApi.start(
      { DATABASE_STATEMENT_TIMEOUT_MS: '300' },
      {
        logger: createLogger({ level: 'trace', base: { service: 'api' } }, log),
        extend: (app, self) => {
          const router = new Router();
          // A bug on purpose: the email bound where an integer belongs (SQLSTATE 22P02).
          router.get('/test/bad-cast', async (ctx) => {
            await self.orm.em.getConnection().execute('select ?::int as n', [ctx.query.email]);
          });
          app.use(router.routes());
        },
      },
    );
  });
  after(() => api.close());

  it('never write the statement’s values: a statement cancelled while registering an email', async () => {
    const email = `lock-${randomBytes(4).toString('hex')}@example.test`;
    const trx = await api.orm.em.getConnection().getKnex().transaction();
    let status: number;
    try {
      await trx.raw('set local statement_timeout = 0');
      await trx.raw('lock table app_user in access exclusive mode');
      const res = await api.call('POST', '/v1/auth/register', {
        body: { email, password: 'correct horse battery', name: 'Locked Out', role: 'trainee' },
        headers: { 'x-request-id': 'req-locked-1' },
      });
      status = res.status;
    } finally {
      await trx.rollback();
    }
    expect(status).to.equal(503);
    const warned = log.records().find((r) => r.requestId === 'req-locked-1' && r.level === 40);
    expect(warned, log.text).to.not.equal(undefined);
    expect(JSON.stringify(warned)).to.contain('57014');
    expect(log.text.includes(email), 'the email in the log').to.equal(false);
    expect(log.text.toLowerCase().includes('insert into'), 'the statement in the log').to.equal(false);
  });

  it('never write the values of a failing query that becomes a 500', async () => {
    const email = `cast-${randomBytes(4).toString('hex')}@example.test`;
    const res = await api.call('GET', `/test/bad-cast?email=${encodeURIComponent(email)}`, {
      headers: { 'x-request-id': 'req-cast-1' },
    });
    expect(res.status).to.equal(500);
    expect(res.body).to.deep.equal({ error: { code: 'INTERNAL', message: 'internal error' } });
    const logged = log.records().find((r) => r.requestId === 'req-cast-1' && r.msg === 'unhandled error');
    expect((logged?.err as { code?: string } | undefined)?.code, log.text).to.equal('22P02');
    expect(log.text.includes(email), 'the email in the log').to.equal(false);
  });
});
