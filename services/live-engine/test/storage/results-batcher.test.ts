import { expect } from 'chai';
import type { MinuteRow, SessionResultRow, StandingRow } from '@pulse/contracts';
import { pino } from 'pino';
import { EngineMetrics } from '../../src/metrics.js';
import { BatchWriter } from '../../src/storage/batch-writer.js';
import { ResultsBatcher } from '../../src/storage/results-batcher.js';

const session = (id: string, final: 0 | 1): SessionResultRow => ({
  session_id: id,
  participants: 1,
  final,
  updated_at: 1,
  version: 1,
});
const standing = (id: string) => ({ session_id: id }) as unknown as StandingRow;

function batcher(flushMs = 500) {
  const inserts: Array<{ standings: string[]; minutes: number; sessions: string[] }> = [];
  const writer = new BatchWriter(pino({ level: 'silent' }), new EngineMetrics());
  const results = new ResultsBatcher(writer, {
    flushMs,
    insert: (standings: StandingRow[], minutes: MinuteRow[], sessions: SessionResultRow[]) => {
      inserts.push({
        standings: standings.map((s) => s.session_id),
        minutes: minutes.length,
        sessions: sessions.map((s) => s.session_id),
      });
      return Promise.resolve();
    },
  });
  return { results, inserts };
}

describe('ResultsBatcher (one partition’s results writes, no servers)', () => {
  it('stores the periodic writes of several sessions in one insert once the first is flushMs old', async () => {
    const { results, inserts } = batcher(500);
    const a = results.add([standing('a')], [], session('a', 0), 1_000, false);
    const b = results.add([standing('b'), standing('b')], [], session('b', 0), 1_100, false);
    results.tick(1_499);
    await new Promise((resolve) => setImmediate(resolve));
    expect(inserts).to.deep.equal([]);
    results.tick(1_500);
    await Promise.all([a, b]);
    expect(inserts).to.deep.equal([{ standings: ['a', 'b', 'b'], minutes: 0, sessions: ['a', 'b'] }]);
  });

  it('stores final results at once, with what was pending', async () => {
    const { results, inserts } = batcher(60_000);
    void results.add([], [], session('a', 0), 0, false);
    await results.add([standing('b')], [], session('b', 1), 0, true);
    expect(inserts).to.deep.equal([{ standings: ['b'], minutes: 0, sessions: ['a', 'b'] }]);
  });

  it('stores the finals that arrive behind an insert in progress in one insert after it', async () => {
    const inserts: string[][] = [];
    const releases: Array<() => void> = [];
    const writer = new BatchWriter(pino({ level: 'silent' }), new EngineMetrics());
    const results = new ResultsBatcher(writer, {
      flushMs: 60_000,
      insert: async (_standings, _minutes, sessions) => {
        inserts.push(sessions.map((s) => s.session_id));
        await new Promise<void>((resolve) => releases.push(resolve));
      },
    });
    const a = results.add([standing('a')], [], session('a', 1), 0, true);
    await new Promise((resolve) => setImmediate(resolve));
    // Three more classes of the partition end while a's insert runs.
    const rest = ['b', 'c', 'd'].map((id) => results.add([standing(id)], [], session(id, 1), 0, true));
    expect(inserts).to.deep.equal([['a']]);
    releases[0]();
    await a;
    await new Promise((resolve) => setImmediate(resolve));
    expect(inserts).to.deep.equal([['a'], ['b', 'c', 'd']]);
    releases[1]();
    await Promise.all(rest);
  });

  it('writes nothing after close (a lost lease) and releases the waiting actors', async () => {
    const { results, inserts } = batcher(500);
    const pending = results.add([standing('a')], [], session('a', 0), 0, false);
    results.close();
    await pending;
    await results.add([standing('b')], [], session('b', 1), 0, true);
    results.tick(10_000);
    expect(inserts).to.deep.equal([]);
  });
});
