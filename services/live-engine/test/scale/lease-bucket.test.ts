import { Kvm } from '@nats-io/kv';
import { expect } from 'chai';
import { pino } from 'pino';
import { EngineMetrics } from '../../src/metrics.js';
import { LeaseOwnership } from '../../src/nats/lease-ownership.js';
import { openInfra, type Infra } from '../support.js';

describe('The engines KV bucket settings (issue 14)', () => {
  let infra: Infra;
  before(async () => {
    infra = await openInfra();
  });
  after(() => infra.close());

  it('applies a changed lease TTL and byte limit to a bucket that already exists', async () => {
    // A bucket as an earlier release created it: the old 10 s TTL and no byte limit.
    await new Kvm(infra.nc).create(infra.names.enginesBucket, { ttl: 10_000, history: 1 });
    const ownership = new LeaseOwnership(
      infra.nc,
      infra.names,
      { engineId: 'engine-a', ttlMs: 4_000, replicas: 1, maxBytes: 1_048_576 },
      new EngineMetrics(),
      pino({ level: 'silent' }),
    );
    await ownership.start({ acquired: () => undefined, released: async () => undefined });
    try {
      const status = await (await new Kvm(infra.nc).open(infra.names.enginesBucket)).status();
      expect([status.ttl, status.max_bytes, status.replicas]).to.deep.equal([4_000, 1_048_576, 1]);
    } finally {
      await ownership.leave();
      await ownership.releaseAll();
    }
  });
});
