import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { jetstream } from '@nats-io/jetstream';
import { partitionOf, type RatingMessage } from '@pulse/contracts';
import { createMetrics } from '../src/metrics.js';
import { RatingBatches, type RatingBatchOptions } from '../src/rating-batches.js';
import { NatsWorld, sleep } from './harness.js';

/** Session ids of `n` different partitions. */
function sessionsInPartitions(n: number): string[] {
  const byPartition = new Map<number, string>();
  while (byPartition.size < n) {
    const id = randomUUID();
    byPartition.set(partitionOf(id), id);
  }
  return [...byPartition.values()];
}

const rating = (sessionId: string, seq: number): RatingMessage => ({
  kind: 'rating',
  sessionId,
  userId: randomUUID(),
  seq,
  energy: 50,
  ts: Date.now(),
});

describe('RatingBatches against JetStream (issue 12)', () => {
  let world: NatsWorld;
  const batches = (options: Partial<RatingBatchOptions>) =>
    new RatingBatches(
      jetstream(world.nc),
      world.names,
      'gw-test',
      { windowMs: 25, maxRatings: 500, timeoutMs: 5_000, queueMax: 10_000, ...options },
      createMetrics(),
    );
  beforeEach(async () => {
    world = await NatsWorld.start({ engine: false });
  });
  afterEach(() => world.stop());

  it('publishes the batches of every partition opened during a window together, at its end', async () => {
    const [a, b] = sessionsInPartitions(2);
    const out = batches({ windowMs: 300 });
    const first = out.add(rating(a, 1));
    await sleep(150);
    // With a window per partition, b's batch would be stored ~150 ms after a's.
    await Promise.all([first, out.add(rating(b, 1))]);
    const [storedA, storedB] = [
      await world.batchMessages(partitionOf(a)),
      await world.batchMessages(partitionOf(b)),
    ];
    expect([storedA.length, storedB.length]).to.deep.equal([1, 1]);
    expect(Math.abs(storedB[0].time.getTime() - storedA[0].time.getTime())).to.be.below(75);
  });

  it('publishes a full batch at once and leaves the window to the other partitions', async () => {
    const [a, b] = sessionsInPartitions(2);
    const out = batches({ windowMs: 10_000, maxRatings: 2 });
    let bSettled = false;
    const pendingB = out.add(rating(b, 1)).then(() => (bSettled = true));
    await Promise.all([out.add(rating(a, 1)), out.add(rating(a, 2))]);
    expect(bSettled, 'b waits for the window').to.equal(false);
    expect(await world.batchMessages(partitionOf(a))).to.have.length(1);
    await out.idle();
    await pendingB;
    expect(await world.batchMessages(partitionOf(b))).to.have.length(1);
    expect(out.pending).to.equal(0);
  });

  it('starts a new window with the first rating after one ended', async () => {
    const [a] = sessionsInPartitions(1);
    const out = batches({ windowMs: 50 });
    await out.add(rating(a, 1));
    await out.add(rating(a, 2));
    const stored = await world.batchMessages(partitionOf(a));
    expect(stored).to.have.length(2);
  });
});
