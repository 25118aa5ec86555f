import { expect } from 'chai';
import { DEV_ACCESS_SECRET, InvalidConfig } from '@pulse/runtime';
import { loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('defaults to the local stack', () => {
    const config = loadConfig({});
    expect(config).to.include({
      API_PORT: 3000,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/pulse',
      DATABASE_SCHEMA: 'public',
      NATS_NAMESPACE: 'pulse',
      CLICKHOUSE_DB: 'pulse',
      ACCESS_TOKEN_TTL_SEC: 900,
      REFRESH_TOKEN_TTL_SEC: 2_592_000,
      JOIN_TICKET_TTL_SEC: 600,
      GATEWAY_PUBLIC_URL: 'ws://127.0.0.1:8080/v1/live',
    });
    expect(Object.isFrozen(config)).to.equal(true);
  });

  it('defaults the front door to direct clients and the documented limits (issue 11)', () => {
    expect(loadConfig({})).to.include({
      TRUST_PROXY: '',
      LOGIN_MAX_PER_ACCOUNT: 5,
      LOGIN_MAX_PER_IP: 50,
      LOGIN_MAX_PER_ACCOUNT_GLOBAL: 100,
      LOGIN_ACCOUNT_GLOBAL_WINDOW_SEC: 86_400,
      LOGIN_KNOWN_ADDRESS_TTL_SEC: 2_592_000,
      REGISTER_MAX_PER_IP: 60,
      REGISTER_IP_WINDOW_SEC: 600,
      DATABASE_STATEMENT_TIMEOUT_MS: 5000,
      REQUEST_TIMEOUT_MS: 10_000,
    });
  });

  it('accepts hops or address lists in TRUST_PROXY and refuses anything else at start', () => {
    for (const ok of [
      '1',
      '2',
      'false',
      '10.0.0.0/8',
      '10.0.0.0/8, 127.0.0.1',
      'loopback,uniquelocal',
      '::1/128',
    ]) {
      expect(loadConfig({ TRUST_PROXY: ok }).TRUST_PROXY, ok).to.equal(ok.trim());
    }
    for (const bad of ['yes', '10.0.0.0/99', '1.2.3', 'everyone', '-1']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).to.throw(InvalidConfig, /TRUST_PROXY/);
    }
  });

  it('names the variable of a bad value', () => {
    expect(() => loadConfig({ API_PORT: 'eighty' })).to.throw(InvalidConfig, /API_PORT/);
    expect(() => loadConfig({ DATABASE_SCHEMA: 'x; drop' })).to.throw(InvalidConfig, /DATABASE_SCHEMA/);
  });

  it('refuses to start in production on a default or short secret', () => {
    const strong = {
      JWT_ACCESS_SECRET: 'a'.repeat(40),
      JOIN_TICKET_SECRET: 'b'.repeat(40),
      NATS_USER: 'api',
      NATS_PASSWORD: 'p'.repeat(24),
    };
    expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(
      InvalidConfig,
      /JWT_ACCESS_SECRET: the development default/,
    );
    expect(() => loadConfig({ NODE_ENV: 'production', ...strong, JWT_ACCESS_SECRET: 'short' })).to.throw(
      InvalidConfig,
      /JWT_ACCESS_SECRET: must be at least 32/,
    );
    expect(() =>
      loadConfig({ NODE_ENV: 'production', ...strong, JOIN_TICKET_SECRET: 'a'.repeat(40) }),
    ).to.throw(InvalidConfig, /must differ/);
    expect(loadConfig({ NODE_ENV: 'production', ...strong }).JWT_ACCESS_SECRET).to.equal('a'.repeat(40));
    expect(loadConfig({}).JWT_ACCESS_SECRET).to.equal(DEV_ACCESS_SECRET);
  });
});
