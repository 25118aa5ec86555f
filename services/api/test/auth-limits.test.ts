import { expect } from 'chai';
import Router from '@koa/router';
import type Koa from 'koa';
import { TestApi } from './harness.js';
import type { Reply } from './harness.js';

const PASSWORD = 'correct horse battery';

/** A test-only route that answers the client address the API settled on. */
const echoAddress = (app: Koa) => {
  const router = new Router();
  router.get('/test/address', (ctx) => {
    ctx.body = { address: ctx.ip };
  });
  app.use(router.routes());
};

const forwarded = (chain: string) => ({ 'x-forwarded-for': chain });

describe('auth limits behind proxies (issue 11)', () => {
  describe('with TRUST_PROXY unset (direct clients)', () => {
    let api: TestApi;
    before(async () => {
      // The real address is loopback here: no exemption, as for a client from afar.
      api = await TestApi.start({ LOGIN_MAX_PER_IP: '4', ADDRESS_LIMIT_EXEMPT: '' }, { extend: echoAddress });
    });
    after(() => api.close());

    it('ignores a spoofed X-Forwarded-For: the address is the socket’s', async () => {
      const res = await api.call('GET', '/test/address', { headers: forwarded('203.0.113.7') });
      expect(res.body.address).to.be.oneOf(['127.0.0.1', '::ffff:127.0.0.1']);
    });

    it('counts failed logins with a new spoofed address each time against the one real address', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await api.call('POST', '/v1/auth/login', {
          body: { email: `nobody${i}@example.test`, password: 'wrong-password' },
          headers: forwarded(`198.51.100.${i + 1}`),
        });
        statuses.push(res.status);
      }
      expect(statuses).to.deep.equal([401, 401, 401, 401, 429, 429]);
    });
  });

  describe('with TRUST_PROXY as a number of hops', () => {
    let one: TestApi;
    let two: TestApi;
    before(async () => {
      [one, two] = await Promise.all([
        TestApi.start({ TRUST_PROXY: '1' }, { extend: echoAddress }),
        TestApi.start({ TRUST_PROXY: '2' }, { extend: echoAddress }),
      ]);
    });
    after(() => Promise.all([one.close(), two.close()]));

    it('takes the address the trusted hops saw, never what the client wrote before them', async () => {
      const chain = forwarded('6.6.6.6, 203.0.113.9, 10.0.0.5');
      expect((await one.call('GET', '/test/address', { headers: chain })).body.address).to.equal('10.0.0.5');
      expect((await two.call('GET', '/test/address', { headers: chain })).body.address).to.equal(
        '203.0.113.9',
      );
      const direct = await one.call('GET', '/test/address');
      expect(direct.body.address).to.be.oneOf(['127.0.0.1', '::ffff:127.0.0.1']);
    });
  });

  describe('with TRUST_PROXY as CIDRs', () => {
    let api: TestApi;
    before(async () => {
      api = await TestApi.start({ TRUST_PROXY: '127.0.0.0/8, 10.0.0.0/8' }, { extend: echoAddress });
    });
    after(() => api.close());

    it('walks back through trusted ranges to the first untrusted address', async () => {
      const res = await api.call('GET', '/test/address', {
        headers: forwarded('6.6.6.6, 203.0.113.20, 10.1.2.3'),
      });
      expect(res.body.address).to.equal('203.0.113.20');
    });
  });

  describe('login and registration windows', () => {
    let api: TestApi;
    before(async () => {
      api = await TestApi.start({
        TRUST_PROXY: '1',
        LOGIN_MAX_PER_ACCOUNT: '3',
        LOGIN_MAX_PER_IP: '100',
        LOGIN_MAX_PER_ACCOUNT_GLOBAL: '10',
        REGISTER_MAX_PER_IP: '3',
      });
    });
    after(() => api.close());

    const login = (email: string, password: string, address: string): Promise<Reply> =>
      api.call('POST', '/v1/auth/login', { body: { email, password }, headers: forwarded(address) });

    it('50 bad logins from address A do not stop a good login from address B', async () => {
      const victim = await api.user('trainee');
      const fromA: number[] = [];
      for (let i = 0; i < 50; i++)
        fromA.push((await login(victim.email, 'wrong-password', '10.1.0.1')).status);
      expect(fromA.slice(0, 3)).to.deep.equal([401, 401, 401]);
      expect(new Set(fromA.slice(3))).to.deep.equal(new Set([429]));
      const fromB = await login(victim.email, PASSWORD, '10.1.0.2');
      expect(fromB.status, JSON.stringify(fromB.body)).to.equal(200);
      const stillA = await login(victim.email, PASSWORD, '10.1.0.1');
      expect(stillA.status).to.equal(429);
      expect(stillA.body.error.code).to.equal('RATE_LIMITED');
      expect(Number(stillA.headers.get('retry-after'))).to.be.greaterThan(0);
      expect(stillA.body.error.details.retryAfterSec).to.equal(Number(stillA.headers.get('retry-after')));
    });

    it('a stranger on many addresses cannot lock the owner out where the owner logs in', async () => {
      const owner = await api.user('trainer');
      expect((await login(owner.email, PASSWORD, '10.2.0.1')).status).to.equal(200);
      // 3 failures from each of 6 addresses: 18 > the backstop of 10 for the account.
      for (let a = 1; a <= 6; a++) {
        for (let i = 0; i < 3; i++) await login(owner.email, 'wrong-password', `10.2.1.${a}`);
      }
      const fromNewAddress = await login(owner.email, PASSWORD, '10.2.9.9');
      expect(fromNewAddress.status, 'the backstop holds for unknown addresses').to.equal(429);
      const fromUsualAddress = await login(owner.email, PASSWORD, '10.2.0.1');
      expect(fromUsualAddress.status, JSON.stringify(fromUsualAddress.body)).to.equal(200);
    });

    it('never answers 429 to successful logins, and a success resets its (account, address) window', async () => {
      const user = await api.user('trainee');
      for (let i = 0; i < 20; i++)
        expect((await login(user.email, PASSWORD, '10.3.0.1')).status).to.equal(200);
      const wrong = () => login(user.email, 'wrong-password', '10.3.0.1');
      expect([(await wrong()).status, (await wrong()).status]).to.deep.equal([401, 401]);
      expect((await login(user.email, PASSWORD, '10.3.0.1')).status).to.equal(200);
      const after: number[] = [];
      for (let i = 0; i < 4; i++) after.push((await wrong()).status);
      expect(after).to.deep.equal([401, 401, 401, 429]);
    });

    it('limits registrations per client address, a taken email included', async () => {
      const register = (email: string, address: string) =>
        api.call('POST', '/v1/auth/register', {
          body: { email, password: PASSWORD, name: 'Reg', role: 'trainee' },
          headers: forwarded(address),
        });
      const statuses = [
        (await register('reg1@example.test', '10.4.0.1')).status,
        (await register('reg1@example.test', '10.4.0.1')).status,
        (await register('reg2@example.test', '10.4.0.1')).status,
      ];
      expect(statuses).to.deep.equal([201, 409, 201]);
      const limited = await register('reg3@example.test', '10.4.0.1');
      expect(limited.status).to.equal(429);
      expect(limited.body.error.code).to.equal('RATE_LIMITED');
      expect(Number(limited.headers.get('retry-after'))).to.be.greaterThan(0);
      expect((await register('reg3@example.test', '10.4.0.2')).status).to.equal(201);
    });
  });

  describe('addresses exempt from per-address limits (ADDRESS_LIMIT_EXEMPT)', () => {
    const register = (api: TestApi, n: number) =>
      api.call('POST', '/v1/auth/register', {
        body: {
          email: `exempt-${n}-${Date.now()}@example.test`,
          password: PASSWORD,
          name: 'Ex',
          role: 'trainee',
        },
      });

    it('exempts loopback by default, so a load test on the machine can sign up thousands of trainees', async () => {
      const api = await TestApi.start({ REGISTER_MAX_PER_IP: '2' });
      try {
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push((await register(api, i)).status);
        expect(statuses).to.deep.equal([201, 201, 201, 201]);
      } finally {
        await api.close();
      }
    });

    it('limits loopback like any address when the list is empty (production)', async () => {
      const api = await TestApi.start({ REGISTER_MAX_PER_IP: '2', ADDRESS_LIMIT_EXEMPT: '' });
      try {
        const statuses = [];
        for (let i = 0; i < 3; i++) statuses.push((await register(api, i)).status);
        expect(statuses).to.deep.equal([201, 201, 429]);
      } finally {
        await api.close();
      }
    });
  });
});
