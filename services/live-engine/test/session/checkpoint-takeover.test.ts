import { randomUUID } from 'node:crypto';
import { Objm } from '@nats-io/obj';
import { expect } from 'chai';
import { partitionOf, type RatingMessage } from '@pulse/contracts';
import { pino } from 'pino';
import { buildEngine, type Engine } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { EngineMetrics } from '../../src/metrics.js';
import { checkpointObject } from '../../src/nats/checkpoint-store.js';
import type { Ownership, OwnershipListener } from '../../src/session/ownership.js';
import { expectedStandings, type Sent } from '../expected.js';
import {
  chRows,
  eventually,
  openInfra,
  publishEvent,
  publishParticipant,
  publishRatings,
  watchRanks,
  type Infra,
} from '../support.js';

const MINUTE_MS = 1_000;
const USERS = 30;

/**
 * Owns every partition it wants until `crash()`: then each is lost at once, as when a lease expires under a dead
 * engine. A standby one owns nothing until `takeOver()`.
 */
class CrashableOwnership implements Ownership {
  readonly ready = true;
  private readonly held = new Set<string>();
  private readonly wanted = new Set<string>();
  private listener: OwnershipListener | null = null;

  constructor(private standby = false) {}

  takeOver(): void {
    this.standby = false;
    for (const key of this.wanted) this.want(key);
  }

  owns(key: string): boolean {
    return this.held.has(key);
  }
  want(key: string): void {
    this.wanted.add(key);
    if (this.standby || this.held.has(key)) return;
    this.held.add(key);
    this.listener?.acquired(key);
  }
  done(key: string): void {
    this.held.delete(key);
  }
  start(listener: OwnershipListener): Promise<void> {
    this.listener = listener;
    return Promise.resolve();
  }
  async crash(): Promise<void> {
    const keys = [...this.held];
    this.held.clear();
    await Promise.all(keys.map((k) => this.listener!.released(k, 'lost')));
  }
  leave(): Promise<void> {
    return Promise.resolve();
  }
  releaseAll(): Promise<void> {
    return Promise.resolve();
  }
}

function engineFor(infra: Infra, engineId: string, ownership?: Ownership): Engine {
  const config = loadConfig({
    NATS_NAMESPACE: infra.namespace,
    CLICKHOUSE_DB: infra.db,
    ENGINE_ID: engineId,
    ENGINE_OWNERSHIP: 'all',
    MINUTE_MS: String(MINUTE_MS),
    RANK_TICK_MS: '50',
    RESULTS_FLUSH_MS: '300',
    CH_FLUSH_MS: '50',
    CH_BATCH_MAX_ROWS: '100',
    ACK_WAIT_MS: '2000',
    // Written by the test (checkpointAll), not by the timer.
    CHECKPOINT_INTERVAL_MS: '3600000',
  });
  const log = pino({ level: process.env.ENGINE_TEST_LOG_LEVEL ?? 'silent' });
  return buildEngine({ config, nc: infra.nc, clickhouse: infra.ch, log, ownership });
}

/** Sum of a histogram's observations with `labels`, and their count. */
async function observed(metrics: EngineMetrics, name: string, labels: Record<string, string>) {
  const metric = await metrics.registry.getSingleMetric(name)!.get();
  const match = (l: Record<string, unknown>) => Object.entries(labels).every(([k, v]) => l[k] === v);
  const value = (suffix: string) =>
    metric.values.find(
      (v) => (v as { metricName?: string }).metricName === `${name}${suffix}` && match(v.labels),
    )?.value ?? 0;
  return { sum: value('_sum'), count: value('_count') };
}

async function counted(metrics: EngineMetrics, name: string, labels: Record<string, string>) {
  const metric = await metrics.registry.getSingleMetric(name)!.get();
  return metric.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

describe('Partition checkpoints at a takeover (real NATS JetStream and ClickHouse, issue 14)', () => {
  let infra: Infra;
  const engines: Engine[] = [];

  beforeEach(async () => {
    infra = await openInfra();
  });
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop().catch(() => undefined);
    await infra.close();
  });

  const cases = [
    {
      title: 'restores the checkpoint and replays only the stream tail, with exact ranks and results',
      corrupt: false,
    },
    {
      title: 'replays the whole partition when the checkpoint is corrupt, with exact results',
      corrupt: true,
    },
  ];
  for (const { title, corrupt } of cases)
    it(title, async () => {
      const sessionId = randomUUID();
      const partition = partitionOf(sessionId);
      const startedAt = Date.now() - 30_000;
      const users = Array.from({ length: USERS }, () => randomUUID());
      const sent: Sent[] = [];
      const all: RatingMessage[] = [];
      const round = async (fromSeq: number, toSeq: number) => {
        const batch: RatingMessage[] = [];
        for (let seq = fromSeq; seq <= toSeq; seq++) {
          for (const [i, userId] of users.entries()) {
            const energy = ((seq * 53 + i * 29) % 10_001) / 100;
            batch.push({ kind: 'rating', sessionId, userId, seq, energy, ts: startedAt + seq * 300 + i });
          }
        }
        await publishRatings(infra, batch);
        for (const r of batch) sent.push({ kind: 'rating', r });
        all.push(...batch);
      };
      const countedUpTo = (engine: Engine, seq: number) =>
        eventually(
          async () => {
            const actor = engine.registry.get(sessionId);
            if (actor === undefined) return undefined;
            const seqs = await Promise.all(users.map((u) => actor.lastSeqOf(u)));
            return seqs.every((s) => s === seq) ? true : undefined;
          },
          20_000,
          `every user counted up to seq ${seq}`,
        );

      const ownershipA = new CrashableOwnership();
      const a = engineFor(infra, 'engine-a', ownershipA);
      engines.push(a);
      await a.start();
      await publishEvent(infra, 'started', sessionId, startedAt);
      for (const [i, userId] of users.entries()) {
        await publishParticipant(infra, sessionId, userId, `Trainee ${i}`, 55 + i);
        sent.push({ kind: 'join', userId, name: `Trainee ${i}`, weightKg: 55 + i });
      }
      await round(1, 20);
      await countedUpTo(a, 20);
      await a.partitions.checkpointAll();
      // One checkpoint per partition this engine runs (all 16), the session's among them.
      expect((await observed(a.metrics, 'pulse_engine_checkpoint_bytes', {})).count).to.equal(16);
      await round(21, 30);
      await countedUpTo(a, 30);
      await ownershipA.crash(); // no graceful stop: nothing more written, stored or acked by A
      await a.stop();
      engines.splice(engines.indexOf(a), 1);

      await round(31, 35); // while no engine runs the partition
      if (corrupt) {
        const store = await new Objm(infra.js).open(infra.names.checkpointsBucket);
        await store.putBlob({ name: checkpointObject(partition) }, new TextEncoder().encode('{"version":1,'));
      }
      const b = engineFor(infra, 'engine-b');
      engines.push(b);
      const ranks = watchRanks(infra, sessionId);
      await b.start();
      await countedUpTo(b, 35);

      // Exact ranks from the new owner, against a plain sort of everything sent.
      const expected = expectedStandings(sent, startedAt, MINUTE_MS);
      await eventually(
        () => {
          const chunks = ranks.latest.chunks;
          const seqs = chunks.flatMap((c) => c.seqs);
          return seqs.length === USERS && seqs.every((s) => s === 35) ? true : undefined;
        },
        20_000,
        'a full snapshot of seq 35 from the new owner',
      );
      ranks.stop();
      const snapshot = ranks.latest.chunks;
      expect(snapshot.flatMap((c) => c.userIds)).to.deep.equal(expected.map((e) => e.userId));
      expect(snapshot.flatMap((c) => c.ranks)).to.deep.equal(expected.map((e) => e.rank));
      expect(snapshot.flatMap((c) => c.scores)).to.deep.equal(expected.map((e) => e.score));

      // What B replayed: only round 2 after the checkpoint (round 3 arrives live); everything without it.
      const joins = USERS;
      const beforeCrash = joins + 30 * USERS;
      const fromCheckpoint = await observed(b.metrics, 'pulse_engine_takeover_replayed_messages', {
        from: 'checkpoint',
      });
      const fromStart = await observed(b.metrics, 'pulse_engine_takeover_replayed_messages', {
        from: 'stream_start',
      });
      const fallbacks = await counted(b.metrics, 'pulse_engine_checkpoint_fallbacks_total', {
        reason: 'corrupt',
      });
      if (corrupt) {
        expect([fromCheckpoint.sum, fromStart.sum, fallbacks]).to.deep.equal([0, beforeCrash, 1]);
      } else {
        expect([fromCheckpoint.sum, fromStart.sum, fallbacks]).to.deep.equal([10 * USERS, 0, 0]);
        expect(fromCheckpoint.sum).to.be.below(beforeCrash);
      }

      await round(36, 40);
      await publishEvent(infra, 'ended', sessionId, startedAt);
      await eventually(
        async () => {
          const r = await chRows<{ f: number }>(
            infra,
            `SELECT final AS f FROM ${infra.db}.session_results FINAL WHERE session_id = '${sessionId}'`,
          );
          return r.length === 1 && Number(r[0].f) === 1 ? true : undefined;
        },
        30_000,
        'final session results',
      );
      const final = expectedStandings(sent, startedAt, MINUTE_MS);
      const standings = await chRows<{
        user_id: string;
        rank: number;
        score: number;
        samples: number;
        calories: number;
      }>(
        infra,
        `SELECT user_id, rank, score, samples, calories FROM ${infra.db}.standings FINAL WHERE session_id = '${sessionId}' ORDER BY rank`,
      );
      expect(standings.map((s) => [s.user_id, s.rank, s.score, s.samples])).to.deep.equal(
        final.map((e) => [e.userId, e.rank, e.score, e.samples]),
      );
      for (const [i, s] of standings.entries()) expect(s.calories).to.be.closeTo(final[i].calories, 0.011);
      const [{ n, distinct }] = await chRows<{ n: string; distinct: string }>(
        infra,
        `SELECT count() AS n, uniqExact(user_id, seq) AS distinct FROM ${infra.db}.ratings FINAL WHERE session_id = '${sessionId}'`,
      );
      expect([Number(n), Number(distinct)]).to.deep.equal([all.length, all.length]);
    });
});

describe('Partition checkpoints and frozen sessions (issue 14)', () => {
  let infra: Infra;
  const engines: Engine[] = [];
  beforeEach(async () => {
    infra = await openInfra();
  });
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop().catch(() => undefined);
    await infra.close();
  });

  it('does not finish again, from the tail alone, a session that froze before the checkpoint', async () => {
    const live = randomUUID();
    let frozen = randomUUID();
    while (partitionOf(frozen) !== partitionOf(live)) frozen = randomUUID();
    const startedAt = Date.now() - 20_000;
    const ownershipA = new CrashableOwnership();
    const ownershipB = new CrashableOwnership(true);
    const a = engineFor(infra, 'engine-a', ownershipA);
    const b = engineFor(infra, 'engine-b', ownershipB);
    engines.push(a, b);
    // B learns of the end before A freezes the results (as a standby engine usually does): its check says "not final".
    const isFinal = b.store.isFinal.bind(b.store);
    b.store.isFinal = () => Promise.resolve(false);
    await a.start();
    await b.start();
    const users = Array.from({ length: 5 }, () => randomUUID());
    const ratings: RatingMessage[] = [];
    for (const sessionId of [frozen, live]) {
      await publishEvent(infra, 'started', sessionId, startedAt);
      for (const [i, userId] of users.entries())
        await publishParticipant(infra, sessionId, userId, `T${i}`, 60);
      for (let seq = 1; seq <= 5; seq++)
        for (const [i, userId] of users.entries())
          ratings.push({ kind: 'rating', sessionId, userId, seq, energy: 10 + i, ts: startedAt + seq * 500 });
    }
    await publishRatings(infra, ratings);
    await publishEvent(infra, 'ended', frozen, startedAt);
    const sessionRow = () =>
      chRows<{ participants: number; version: string; final: number }>(
        infra,
        `SELECT participants, version, final FROM ${infra.db}.session_results FINAL WHERE session_id = '${frozen}'`,
      );
    const frozenRow = await eventually(
      async () => (await sessionRow()).find((r) => Number(r.final) === 1) as object | undefined,
      20_000,
      'the frozen session’s final results',
    );
    await a.partitions.checkpointAll();
    await ownershipA.crash();
    await a.stop();
    engines.splice(engines.indexOf(a), 1);

    b.store.isFinal = isFinal;
    ownershipB.takeOver();
    await eventually(
      async () => ((await b.registry.get(live)?.lastSeqOf(users[0])) === 5 ? true : undefined),
      20_000,
      'the live session restored on B',
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // time for a wrong finish to land
    expect(b.registry.get(frozen)).to.equal(undefined);
    expect(await sessionRow()).to.deep.equal([frozenRow]);
  });
});
