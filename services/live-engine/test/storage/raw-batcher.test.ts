import { expect } from 'chai';
import type { RatingRow } from '@pulse/contracts';
import { pino } from 'pino';
import { EngineMetrics } from '../../src/metrics.js';
import { BatchWriter } from '../../src/storage/batch-writer.js';
import { RawBatcher } from '../../src/storage/raw-batcher.js';

const row = (seq: number): RatingRow => ({
  session_id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  user_id: '16fd2706-8baf-433b-82eb-8c7fada847da',
  seq,
  energy: 50,
  ts: 1,
  ts_ms: 1000,
  minute: 0,
});

function batcher(insert: (rows: RatingRow[]) => Promise<void>, maxRows = 3, flushMs = 500) {
  const writer = new BatchWriter(pino({ level: 'silent' }), new EngineMetrics());
  return new RawBatcher(writer, { maxRows, flushMs, insert });
}

const acked: string[] = [];
const message = (name: string) => ({ ack: () => void acked.push(name) });

describe('RawBatcher (one partition’s raw rows, no servers)', () => {
  beforeEach(() => (acked.length = 0));

  it('inserts the rows of several messages at once and acks them only after the insert', async () => {
    const inserts: number[][] = [];
    let release: () => void = () => undefined;
    const raw = batcher(async (rows) => {
      inserts.push(rows.map((r) => r.seq));
      await new Promise<void>((resolve) => (release = resolve));
    });
    raw.add(row(1), message('a'), 0);
    raw.add(null, message('participant'), 0);
    raw.add(row(2), message('b'), 0);
    raw.add(row(3), null, 0); // a replayed row: stored, nothing to ack
    await new Promise((resolve) => setImmediate(resolve));
    expect(inserts).to.deep.equal([[1, 2, 3]]);
    expect(acked).to.deep.equal([]);
    const stored = raw.stored();
    release();
    await stored;
    expect(acked).to.deep.equal(['a', 'participant', 'b']);
  });

  it('stores a partial batch on the tick once it is flushMs old, not before', async () => {
    const inserts: number[][] = [];
    const raw = batcher(async (rows) => void inserts.push(rows.map((r) => r.seq)), 100, 500);
    raw.add(row(7), message('a'), 1_000);
    raw.tick(1_499);
    await new Promise((resolve) => setImmediate(resolve));
    expect(inserts).to.deep.equal([]);
    raw.tick(1_500);
    await raw.stored();
    expect([inserts, acked]).to.deep.equal([[[7]], ['a']]);
  });

  it('stores what arrives behind an insert in progress in one insert that serves every stored() asked meanwhile', async () => {
    const inserts: number[][] = [];
    const releases: Array<() => void> = [];
    const raw = batcher(async (rows) => {
      inserts.push(rows.map((r) => r.seq));
      await new Promise<void>((resolve) => releases.push(resolve));
    }, 100);
    raw.add(row(1), message('a'), 0);
    const first = raw.stored();
    await new Promise((resolve) => setImmediate(resolve));
    // The classes of the partition ending while the first insert runs: each asks for its rows to be stored.
    const waiting: Array<Promise<void>> = [];
    for (const [seq, name] of [
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ] as const) {
      raw.add(row(seq), message(name), 0);
      waiting.push(raw.stored());
    }
    expect(inserts).to.deep.equal([[1]]);
    releases[0]();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(inserts).to.deep.equal([[1], [2, 3, 4]]);
    expect(acked).to.deep.equal(['a']);
    releases[1]();
    await Promise.all(waiting);
    expect(acked).to.deep.equal(['a', 'b', 'c', 'd']);
  });

  it('retries a taken batch as it was: a row added during the retry goes into the next insert', async () => {
    const inserts: number[][] = [];
    const raw = batcher(async (rows) => {
      inserts.push(rows.map((r) => r.seq));
      if (inserts.length === 1) {
        raw.add(row(2), message('b'), 0);
        throw new Error('ClickHouse down');
      }
    }, 100);
    raw.add(row(1), message('a'), 0);
    await raw.stored();
    await raw.stored();
    expect([inserts, acked]).to.deep.equal([
      [[1], [1], [2]],
      ['a', 'b'],
    ]);
  });

  it('retries a failed insert and acks once it is stored', async () => {
    let attempts = 0;
    const raw = batcher(async () => {
      if (++attempts === 1) throw new Error('ClickHouse down');
    }, 1);
    raw.add(row(1), message('a'), 0);
    await raw.stored();
    expect([attempts, acked]).to.deep.equal([2, ['a']]);
  });

  it('acks nothing after close (a lost lease): JetStream redelivers to the next owner', async () => {
    const raw = batcher(() => Promise.reject(new Error('ClickHouse down')), 1);
    raw.add(row(1), message('a'), 0);
    raw.close();
    raw.add(row(2), message('b'), 0);
    await raw.stored();
    expect(acked).to.deep.equal([]);
  });
});
