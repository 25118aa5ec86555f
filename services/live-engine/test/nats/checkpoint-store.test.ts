import { randomBytes } from 'node:crypto';
import { Objm } from '@nats-io/obj';
import { expect } from 'chai';
import { pino } from 'pino';
import { ObjectCheckpointStore } from '../../src/nats/checkpoint-store.js';
import { openInfra, type Infra } from '../support.js';

describe('The checkpoints object store (issue 14)', () => {
  let infra: Infra;
  before(async () => {
    infra = await openInfra();
  });
  after(() => infra.close());

  it('applies a changed byte limit to a bucket that exists, and replaces a checkpoint larger than a message', async () => {
    // A bucket as another setting created it.
    await new Objm(infra.js).create(infra.names.checkpointsBucket, { max_bytes: 8 * 1024 * 1024 });
    const store = new ObjectCheckpointStore(
      infra.js,
      infra.names,
      { replicas: 1, maxBytes: 16 * 1024 * 1024 },
      pino({ level: 'silent' }),
    );
    const status = await (await store.ensure()).status();
    expect([status.streamInfo.config.max_bytes, status.replicas]).to.deep.equal([16 * 1024 * 1024, 1]);

    expect(await store.load(3)).to.equal(null);
    const first = randomBytes(2_500_000); // more than one JetStream message (1 MB): chunked by the store
    const second = randomBytes(1_500_000);
    await store.save(3, first);
    await store.save(3, second);
    expect(Buffer.from((await store.load(3))!).equals(second)).to.equal(true);
    // The replaced checkpoint's chunks are gone: the bucket holds about one object.
    const bytes = (await (await store.ensure()).status()).size;
    expect(bytes).to.be.within(1_500_000, 2_000_000);
  });
});
