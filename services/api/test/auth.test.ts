/* eslint-disable @typescript-eslint/no-explicit-any */
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { TestApi } from './harness.js';

describe('accounts and tokens', () => {
  let api: TestApi;
  before(async () => {
    // The suite's client is 127.0.0.1: no loopback exemption, so the per-address window applies as from afar.
    api = await TestApi.start({
      LOGIN_MAX_PER_ACCOUNT: '3',
      LOGIN_MAX_PER_IP: '12',
      ADDRESS_LIMIT_EXEMPT: '',
    });
  });
  after(() => api.close());

  const password = 'correct horse battery';

  it('registers a trainee and a trainer, each with a token pair and the right role', async () => {
    const trainee = await api.call('POST', '/v1/auth/register', {
      body: { email: 'Ann@Example.test', password, name: 'Ann', role: 'trainee', weightKg: 61.5 },
    });
    expect(trainee.status).to.equal(201);
    expect(trainee.body.user).to.include({
      email: 'ann@example.test',
      name: 'Ann',
      role: 'trainee',
      weightKg: 61.5,
    });
    expect(trainee.body.accessToken).to.be.a('string');
    expect(trainee.body.refreshToken).to.be.a('string');
    expect(trainee.body.user).to.not.have.property('passwordHash');
    const trainer = await api.call('POST', '/v1/auth/register', {
      body: { email: 'coach@example.test', password, name: 'Coach', role: 'trainer' },
    });
    expect(trainer.status).to.equal(201);
    expect(trainer.body.user.role).to.equal('trainer');
    const me = await api.call('GET', '/v1/me', { token: trainer.body.accessToken });
    expect(me.status).to.equal(200);
    expect(me.body).to.include({ email: 'coach@example.test', role: 'trainer', weightKg: null });
  });

  it('refuses a second account with the same email in another case with 409 CONFLICT', async () => {
    const res = await api.call('POST', '/v1/auth/register', {
      body: { email: 'ANN@example.test', password, name: 'Ann 2', role: 'trainee' },
    });
    expect(res.status).to.equal(409);
    expect(res.body.error.code).to.equal('CONFLICT');
  });

  it('refuses a password shorter than 8 characters', async () => {
    const res = await api.call('POST', '/v1/auth/register', {
      body: { email: 'short@example.test', password: 'short', name: 'S', role: 'trainee' },
    });
    expect(res.status).to.equal(400);
    expect(res.body.error.code).to.equal('VALIDATION_FAILED');
  });

  it('logs in with the right password and answers 401 to a wrong one or an unknown email', async () => {
    const ok = await api.call('POST', '/v1/auth/login', { body: { email: 'ann@example.test', password } });
    expect(ok.status).to.equal(200);
    expect(ok.body.user.email).to.equal('ann@example.test');
    const wrong = await api.call('POST', '/v1/auth/login', {
      body: { email: 'ann@example.test', password: 'nope-nope' },
    });
    expect(wrong.status).to.equal(401);
    expect(wrong.body.error.code).to.equal('UNAUTHENTICATED');
    const unknown = await api.call('POST', '/v1/auth/login', {
      body: { email: 'who@example.test', password },
    });
    expect(unknown.status).to.equal(401);
  });

  it('rate limits login per account with 429 RATE_LIMITED and a retry-after header', async () => {
    await api.signup('trainee', 'limited');
    const attempt = () =>
      api.call('POST', '/v1/auth/login', {
        body: { email: 'limited@example.test', password: 'wrong-password' },
      });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await attempt()).status);
    expect(statuses).to.deep.equal([401, 401, 401, 429]);
    const limited = await attempt();
    expect(limited.body.error.code).to.equal('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).to.be.greaterThan(0);
  });

  it('rate limits failed logins per client address across accounts', async () => {
    // 12 per IP in this suite; earlier tests used 10 attempts from this IP already or fewer.
    let last = 0;
    for (let i = 0; i < 14 && last !== 429; i++) {
      last = (await api.call('POST', '/v1/auth/login', { body: { email: `x${i}@example.test`, password } }))
        .status;
    }
    expect(last).to.equal(429);
    await api.redis.del(...(await api.redis.keys(`${api.config.REDIS_KEY_PREFIX}login:address*`)));
  });

  it('rotates refresh tokens: the new pair works and the old refresh token stops working', async () => {
    const login = await api.call('POST', '/v1/auth/login', {
      body: { email: 'coach@example.test', password },
    });
    const first = login.body.refreshToken;
    const rotated = await api.call('POST', '/v1/auth/refresh', { body: { refreshToken: first } });
    expect(rotated.status).to.equal(200);
    expect(rotated.body.refreshToken).to.not.equal(first);
    expect((await api.call('GET', '/v1/me', { token: rotated.body.accessToken })).status).to.equal(200);
    const again = await api.call('POST', '/v1/auth/refresh', { body: { refreshToken: first } });
    expect(again.status).to.equal(401);
  });

  it('revokes the whole family when a rotated refresh token is reused', async () => {
    const login = await api.call('POST', '/v1/auth/login', {
      body: { email: 'coach@example.test', password },
    });
    const stolen = login.body.refreshToken;
    const legit = await api.call('POST', '/v1/auth/refresh', { body: { refreshToken: stolen } });
    const reuse = await api.call('POST', '/v1/auth/refresh', { body: { refreshToken: stolen } });
    expect(reuse.status).to.equal(401);
    expect(reuse.body.error.message).to.match(/reused/);
    const legitAgain = await api.call('POST', '/v1/auth/refresh', {
      body: { refreshToken: legit.body.refreshToken },
    });
    expect(legitAgain.status).to.equal(401);
  });

  it('logs out with 204 and the refresh token no longer works', async () => {
    const login = await api.call('POST', '/v1/auth/login', { body: { email: 'ann@example.test', password } });
    const out = await api.call('POST', '/v1/auth/logout', {
      token: login.body.accessToken,
      body: { refreshToken: login.body.refreshToken },
    });
    expect(out.status).to.equal(204);
    const refresh = await api.call('POST', '/v1/auth/refresh', {
      body: { refreshToken: login.body.refreshToken },
    });
    expect(refresh.status).to.equal(401);
  });

  it('refuses access tokens with alg none, a foreign secret, a wrong audience or an expired exp', async () => {
    const user = await api.user('trainee');
    const secret = api.config.JWT_ACCESS_SECRET;
    const base = { role: 'trainee' };
    const opts = { subject: user.id, issuer: 'pulse-api', audience: 'pulse-api' };
    const none = jwt.sign(base, '', { ...opts, algorithm: 'none' } as any);
    const foreign = jwt.sign(base, 'another-secret-another-secret-12345', { ...opts, algorithm: 'HS256' });
    const audience = jwt.sign(base, secret, { ...opts, audience: 'pulse-gateway', algorithm: 'HS256' });
    const expired = jwt.sign({ ...base, exp: Math.floor(Date.now() / 1000) - 10 }, secret, {
      subject: user.id,
      issuer: 'pulse-api',
      audience: 'pulse-api',
    });
    const ticketSigned = jwt.sign(base, api.config.JOIN_TICKET_SECRET, { ...opts, algorithm: 'HS256' });
    for (const token of [none, foreign, audience, expired, ticketSigned, 'garbage']) {
      const res = await api.call('GET', '/v1/me', { token });
      expect(res.status, token).to.equal(401);
      expect(res.body.error.code).to.equal('UNAUTHENTICATED');
    }
    expect((await api.call('GET', '/v1/me', { token: user.token })).status).to.equal(200);
  });
});
