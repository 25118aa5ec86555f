import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
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

    const secrets = [
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
    expect(requests.find((r) => r.path === '/v1/me')?.requestId).to.equal('req-logs-1');
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
