import { createServer, type Server } from 'node:net';
import { expect } from 'chai';
import { z } from 'zod';
import {
  DEFAULT_STREAM_SETTINGS,
  DEV_JOIN_TICKET_SECRET,
  InvalidConfig,
  PortUnavailable,
  clientAddressEnv,
  compileTrustProxy,
  isTrustProxy,
  joinTicketEnv,
  listen,
  loadServiceConfig,
  natsOptions,
  readinessReport,
  streamSettings,
  toStreamConfig,
} from '../src/index.js';
import { natsNames, streamConfigs } from '@pulse/contracts';

const spec = {
  service: 'demo',
  shape: { ...joinTicketEnv, DEMO_PORT: z.coerce.number().int().default(1) },
  secrets: [['JOIN_TICKET_SECRET', DEV_JOIN_TICKET_SECRET]] as const,
};

describe('loadServiceConfig', () => {
  it('gives every service the same defaults, so a default stack agrees on its secrets (issue 11)', () => {
    const config = loadServiceConfig(spec, {});
    expect(config).to.include({
      NATS_URL: 'nats://127.0.0.1:4222',
      NATS_NAMESPACE: 'pulse',
      NATS_STREAM_REPLICAS: 1,
      LOG_LEVEL: 'info',
      JOIN_TICKET_SECRET: DEV_JOIN_TICKET_SECRET,
      DEMO_PORT: 1,
    });
    expect(Object.isFrozen(config)).to.equal(true);
  });

  it('names every bad variable', () => {
    expect(() => loadServiceConfig(spec, { DEMO_PORT: 'x', NATS_STREAM_REPLICAS: '0' }))
      .to.throw(InvalidConfig, /invalid demo configuration/)
      .with.property('variables')
      .that.deep.equals(['NATS_STREAM_REPLICAS', 'DEMO_PORT']);
  });

  it('refuses development secrets, short secrets and NATS without credentials in production', () => {
    const production = { NODE_ENV: 'production' };
    expect(() => loadServiceConfig(spec, production))
      .to.throw(InvalidConfig)
      .with.property('variables')
      .that.deep.equals(['JOIN_TICKET_SECRET', 'NATS_USER', 'NATS_PASSWORD']);
    expect(() => loadServiceConfig(spec, { ...production, JOIN_TICKET_SECRET: 'short' })).to.throw(
      /JOIN_TICKET_SECRET: must be at least 32/,
    );
    const ok = {
      ...production,
      JOIN_TICKET_SECRET: 's'.repeat(40),
      NATS_USER: 'gateway',
      NATS_PASSWORD: 'p'.repeat(20),
    };
    expect(loadServiceConfig(spec, ok).NATS_USER).to.equal('gateway');
  });

  it('passes NATS credentials to the connection only when set', () => {
    const config = loadServiceConfig(spec, { NATS_USER: 'u', NATS_PASSWORD: 'p' });
    expect(natsOptions(config, 'demo')).to.include({ user: 'u', pass: 'p', maxReconnectAttempts: -1 });
    expect(natsOptions(loadServiceConfig(spec, {}), 'demo')).to.not.have.property('user');
  });
});

describe('toStreamConfig', () => {
  it('turns the contract settings into JetStream settings with the configured replicas', () => {
    const [ratings] = streamConfigs(natsNames('demo'), 3).map((c) => toStreamConfig(c));
    expect(ratings).to.include({
      name: 'DEMO_RATINGS',
      num_replicas: 3,
      storage: 'file',
      retention: 'limits',
    });
    expect(ratings.duplicate_window).to.equal(2 * 60_000 * 1_000_000);
  });

  it("applies a deployment's age and byte limits, dropping the oldest past the byte limit (issue 14)", () => {
    const config = loadServiceConfig(spec, {
      NATS_RATINGS_MAX_AGE_SEC: '21600',
      NATS_RATINGS_MAX_BYTES: '53687091200',
    });
    const [ratings, events] = streamConfigs(natsNames('demo'), 3);
    expect(toStreamConfig(ratings, streamSettings(config).ratings)).to.include({
      max_age: 21_600 * 1e9,
      max_bytes: 53_687_091_200,
      discard: 'old',
    });
    expect(toStreamConfig(events, DEFAULT_STREAM_SETTINGS.events)).to.include({
      max_age: 90 * 24 * 3_600 * 1e9,
      max_bytes: 256 * 1024 ** 2,
    });
  });
});

describe('readinessReport', () => {
  it('is ready when every dependency is up', () => {
    expect(readinessReport({ draining: false, checks: { a: true, b: true }, required: ['a'] })).to.deep.equal(
      {
        httpStatus: 200,
        body: { status: 'ready', checks: { a: 'up', b: 'up' }, down: [], degraded: [] },
      },
    );
  });

  it('stays ready but degraded when only an optional dependency is down', () => {
    const { httpStatus, body } = readinessReport({
      draining: false,
      checks: { a: true, b: false },
      required: ['a'],
      degraded: ['session x: writes retrying'],
    });
    expect([httpStatus, body.status, body.degraded]).to.deep.equal([
      200,
      'degraded',
      ['b', 'session x: writes retrying'],
    ]);
  });

  it('is unavailable when a required dependency is down, and draining wins over everything', () => {
    const down = readinessReport({ draining: false, checks: { a: false }, required: ['a'] });
    expect([down.httpStatus, down.body.status, down.body.down]).to.deep.equal([503, 'unavailable', ['a']]);
    const draining = readinessReport({ draining: true, checks: { a: true }, required: ['a'] });
    expect([draining.httpStatus, draining.body.status]).to.deep.equal([503, 'draining']);
  });
});

describe('compileTrustProxy (TRUST_PROXY, read by the api and the gateways alike)', () => {
  it('trusts nothing, a number of hops, or a list of addresses and CIDRs', () => {
    for (const none of ['', 'false', '0']) expect(compileTrustProxy(none)('10.0.0.1', 0)).to.equal(false);
    const oneHop = compileTrustProxy('1');
    expect([oneHop('10.0.0.1', 0), oneHop('10.0.0.2', 1)]).to.deep.equal([true, false]);
    const cidr = compileTrustProxy('10.0.0.0/8, 127.0.0.1');
    expect([cidr('10.1.2.3', 0), cidr('127.0.0.1', 3), cidr('192.0.2.1', 0)]).to.deep.equal([
      true,
      true,
      false,
    ]);
    expect([isTrustProxy('2'), isTrustProxy('10.0.0.0/33'), isTrustProxy('nonsense')]).to.deep.equal([
      true,
      false,
      false,
    ]);
  });

  it('is refused at start when it is not a valid setting', () => {
    const spec = { service: 'demo', shape: clientAddressEnv };
    expect(() => loadServiceConfig(spec, { TRUST_PROXY: '10.0.0.0/33' })).to.throw(
      InvalidConfig,
      /TRUST_PROXY/,
    );
    expect(loadServiceConfig(spec, { TRUST_PROXY: ' 1 ' }).TRUST_PROXY).to.equal('1');
  });
});

describe('listen (every service binds its port through it)', () => {
  const servers: Server[] = [];
  const server = () => {
    const s = createServer();
    servers.push(s);
    return s;
  };
  const portOf = (s: Server) => (s.address() as { port: number }).port;
  afterEach(() => servers.splice(0).forEach((s) => s.close()));

  it('resolves once the server listens, and leaves no error listener behind', async () => {
    const s = server();
    await listen(s, { port: 0, backlog: 64 });
    expect(portOf(s)).to.be.above(0);
    expect(s.listenerCount('error')).to.equal(0);
  });

  it('rejects naming the port and the reason when another process holds it, instead of an error event', async () => {
    const holder = server();
    await listen(holder, { port: 0 });
    const port = portOf(holder);
    const err = await listen(server(), { port }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(PortUnavailable);
    expect(err).to.include({ port, reason: 'EADDRINUSE' });
    expect((err as Error).message).to.equal(`cannot listen on port ${port}: EADDRINUSE`);
  });
});
