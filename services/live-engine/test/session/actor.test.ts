import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  LastSeqReply,
  encodeRatingBatch,
  partitionOf,
  ratingBatchMsgId,
  type RatingMessage,
} from '@pulse/contracts';
import { pino } from 'pino';
import { buildEngine, type Engine } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
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

function engineFor(infra: Infra): Engine {
  const config = loadConfig({
    NATS_NAMESPACE: infra.namespace,
    CLICKHOUSE_DB: infra.db,
    MINUTE_MS: String(MINUTE_MS),
    RANK_TICK_MS: '50',
    RESULTS_FLUSH_MS: '300',
    CH_FLUSH_MS: '50',
    CH_BATCH_MAX_ROWS: '100',
  });
  return buildEngine({ config, nc: infra.nc, clickhouse: infra.ch, log: pino({ level: 'silent' }) });
}

describe('SessionActor (real NATS JetStream and ClickHouse)', () => {
  let infra: Infra;
  let engine: Engine;

  beforeEach(async () => {
    infra = await openInfra();
    engine = engineFor(infra);
    await engine.start();
  });
  afterEach(async () => {
    await engine.stop();
    await infra.close();
  });

  it('publishes exact ranks, scores, seqs and top, then freezes exact results in ClickHouse on end', async () => {
    const sessionId = randomUUID();
    const startedAt = Date.now() - 10_000;
    await publishEvent(infra, 'started', sessionId, startedAt);
    const ranks = watchRanks(infra, sessionId);
    const users = Array.from({ length: 12 }, () => randomUUID());
    const sent: Sent[] = [];
    for (const [i, userId] of users.entries()) {
      if (i === 11) continue; // this one only ever rates: default name and weight
      await publishParticipant(infra, sessionId, userId, `User ${i}`, 60 + i);
      sent.push({ kind: 'join', userId, name: `User ${i}`, weightKg: 60 + i });
    }
    const ratings: RatingMessage[] = [];
    for (let seq = 1; seq <= 8; seq++) {
      for (const [i, userId] of users.entries()) {
        if (i === 10) continue; // joined, never rates: score 0 on the board
        const energy = Math.round(((seq * 37 + i * 11) % 100) * 100 + i) / 100;
        ratings.push({ kind: 'rating', sessionId, userId, seq, energy, ts: startedAt + seq * 400 + i });
      }
    }
    await publishRatings(infra, ratings);
    for (const r of ratings) sent.push({ kind: 'rating', r });
    // A resend after a reconnect (same msg id: JetStream drops it) and one stored again without a msg id
    // (past the duplicate window): both must count once.
    await publishRatings(infra, ratings.slice(0, 20));
    await publishRatings(infra, ratings.slice(20, 30), false);
    for (const r of ratings.slice(20, 30)) sent.push({ kind: 'rating', r: { ...r, energy: 99 } });

    const expected = expectedStandings(sent, startedAt, MINUTE_MS);
    const snapshot = await eventually(
      () => {
        const c = ranks.latest.chunks;
        if (c.length === 0 || c[0].participants !== 12) return undefined;
        const seqs = c.flatMap((x) => x.seqs);
        return seqs.every((s, i) => s === expected[i].lastSeq) ? c : undefined;
      },
      20_000,
      'a snapshot with every rating',
    );
    ranks.stop();
    const all = {
      userIds: snapshot.flatMap((c) => c.userIds),
      ranks: snapshot.flatMap((c) => c.ranks),
      scores: snapshot.flatMap((c) => c.scores),
    };
    expect(all.userIds).to.deep.equal(expected.map((e) => e.userId));
    expect(all.ranks).to.deep.equal(expected.map((e) => e.rank));
    expect(all.scores).to.deep.equal(expected.map((e) => e.score));
    expect(snapshot[0].top).to.deep.equal(
      expected.slice(0, 10).map((e) => ({ rank: e.rank, userId: e.userId, name: e.name, score: e.score })),
    );

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

    const standings = await chRows<{
      user_id: string;
      name: string;
      rank: number;
      participants: number;
      score: number;
      calories: number;
      samples: number;
      final: number;
    }>(
      infra,
      `SELECT user_id, name, rank, participants, score, calories, samples, final FROM ${infra.db}.standings FINAL WHERE session_id = '${sessionId}' ORDER BY rank`,
    );
    expect(
      standings.map((s) => [s.user_id, s.rank, s.score, s.samples, s.name, Number(s.final), s.participants]),
    ).to.deep.equal(expected.map((e) => [e.userId, e.rank, e.score, e.samples, e.name, 1, 12]));
    for (const [i, s] of standings.entries()) expect(s.calories).to.be.closeTo(expected[i].calories, 0.011);

    const minutes = await chRows<{ user_id: string; minute: number; max_energy: number; samples: number }>(
      infra,
      `SELECT user_id, minute, max_energy, samples FROM ${infra.db}.minutes FINAL WHERE session_id = '${sessionId}' ORDER BY user_id, minute`,
    );
    const expectedMinutes = expected
      .flatMap((e) => [...e.minutes.entries()].map(([m, b]) => [e.userId, m, b.max / 100, b.samples]))
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : (a[1] as number) - (b[1] as number)));
    const byUserMinute = (a: unknown[], b: unknown[]) =>
      a[0] === b[0] ? (a[1] as number) - (b[1] as number) : String(a[0]) < String(b[0]) ? -1 : 1;
    expect(
      minutes.map((m) => [m.user_id, m.minute, m.max_energy, m.samples]).sort(byUserMinute),
    ).to.deep.equal(expectedMinutes);

    const [{ n, distinct }] = await chRows<{ n: string; distinct: string }>(
      infra,
      `SELECT count() AS n, uniqExact(user_id, seq) AS distinct FROM ${infra.db}.ratings FINAL WHERE session_id = '${sessionId}'`,
    );
    expect([Number(n), Number(distinct)]).to.deep.equal([ratings.length, ratings.length]);
    await eventually(() => (engine.registry.size === 0 ? true : undefined), 5_000, 'the actor to go');
    // Issue 12: no consumer per session; the session's partition consumer fed it and stays.
    const consumers: string[] = [];
    for await (const c of infra.jsm.consumers.list(infra.names.ratingsStream)) consumers.push(c.name);
    expect(consumers).to.include(infra.names.partitionConsumer(partitionOf(sessionId)));
    expect(consumers.every((name) => /^engine-p\d+$/.test(name))).to.equal(true);
  });

  it('drops the actor when a session is cancelled, and acks and drops its late ratings', async () => {
    const sessionId = randomUUID();
    const startedAt = Date.now();
    await publishEvent(infra, 'started', sessionId, startedAt);
    const userId = randomUUID();
    await publishRatings(infra, [{ kind: 'rating', sessionId, userId, seq: 1, energy: 50, ts: startedAt }]);
    await eventually(
      () => (engine.registry.get(sessionId)?.standings.size === 1 ? true : undefined),
      10_000,
      'the actor',
    );
    await publishEvent(infra, 'cancelled', sessionId, startedAt);
    await eventually(
      () => (engine.registry.get(sessionId) === undefined ? true : undefined),
      10_000,
      'the actor to go',
    );
    await publishRatings(infra, [{ kind: 'rating', sessionId, userId, seq: 2, energy: 60, ts: startedAt }]);
    const consumer = infra.names.partitionConsumer(partitionOf(sessionId));
    await eventually(
      async () => {
        const info = await infra.jsm.consumers.info(infra.names.ratingsStream, consumer);
        return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.consumer_seq >= 2
          ? true
          : undefined;
      },
      10_000,
      'the late rating acked',
    );
    expect(engine.registry.get(sessionId)).to.equal(undefined);
  });

  it('holds ratings that arrive before the session start event, counts them once it comes, and logs a long hold', async () => {
    // This describe's engine logs nothing: a second engine would share the partitions, so stop it for this one.
    await engine.stop();
    const lines: Array<{ msg: string; heldMs?: number; groups?: number; sessionId?: string }> = [];
    const config = loadConfig({
      NATS_NAMESPACE: infra.namespace,
      CLICKHOUSE_DB: infra.db,
      RANK_TICK_MS: '50',
    });
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    engine = buildEngine({ config, nc: infra.nc, clickhouse: infra.ch, log });
    await engine.start();

    const sessionId = randomUUID();
    const userId = randomUUID();
    const startedAt = Date.now();
    const ranks = watchRanks(infra, sessionId);
    await publishRatings(infra, [{ kind: 'rating', sessionId, userId, seq: 1, energy: 40, ts: startedAt }]);
    await eventually(
      () => (engine.registry.get(sessionId)?.state === 'waiting' ? true : undefined),
      10_000,
      'a waiting actor',
    );
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(ranks.latest.chunks).to.have.length(0); // nothing is ranked before the start
    await publishEvent(infra, 'started', sessionId, startedAt);
    const snap = await eventually(
      () => (ranks.latest.chunks[0]?.seqs[0] === 1 ? ranks.latest.chunks[0] : undefined),
      10_000,
      'the held rating ranked',
    );
    ranks.stop();
    expect([snap.userIds, snap.scores]).to.deep.equal([[userId], [40]]);
    const held = lines.find((l) => l.msg === 'ratings held until the session start event arrived');
    expect(held?.sessionId).to.equal(sessionId);
    expect(held?.groups).to.equal(1);
    expect(held?.heldMs).to.be.at.least(1_000);
  });

  it('processes the ratings of two sessions independently', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const startedAt = Date.now();
    await publishEvent(infra, 'started', a, startedAt);
    await publishEvent(infra, 'started', b, startedAt);
    const [ra, rb] = [watchRanks(infra, a), watchRanks(infra, b)];
    const [ua, ub] = [randomUUID(), randomUUID()];
    await publishRatings(infra, [
      { kind: 'rating', sessionId: a, userId: ua, seq: 1, energy: 10, ts: startedAt },
      { kind: 'rating', sessionId: b, userId: ub, seq: 1, energy: 70, ts: startedAt },
      { kind: 'rating', sessionId: a, userId: ua, seq: 2, energy: 15.5, ts: startedAt },
    ]);
    const snapA = await eventually(
      () => (ra.latest.chunks[0]?.seqs[0] === 2 ? ra.latest.chunks[0] : undefined),
      10_000,
      'session A',
    );
    const snapB = await eventually(
      () => (rb.latest.chunks[0]?.seqs[0] === 1 ? rb.latest.chunks[0] : undefined),
      10_000,
      'session B',
    );
    ra.stop();
    rb.stop();
    expect([snapA.userIds, snapA.scores, snapA.participants]).to.deep.equal([[ua], [25.5], 1]);
    expect([snapB.userIds, snapB.scores, snapB.participants]).to.deep.equal([[ub], [70], 1]);
  });

  it('counts a gateway batch carrying two sessions once each, acks it once, and answers lastSeq (issue 12)', async () => {
    // Two sessions of one partition, so that one batch message carries both.
    const a = randomUUID();
    let b = randomUUID();
    while (partitionOf(b) !== partitionOf(a)) b = randomUUID();
    const startedAt = Date.now();
    await publishEvent(infra, 'started', a, startedAt);
    await publishEvent(infra, 'started', b, startedAt);
    const [ua, ub] = [randomUUID(), randomUUID()];
    const r = (sessionId: string, userId: string, seq: number, energy: number): RatingMessage => ({
      kind: 'rating',
      sessionId,
      userId,
      seq,
      energy,
      ts: startedAt + seq,
    });
    const partition = partitionOf(a);
    const publishBatch = (batchSeq: number, bySession: Map<string, RatingMessage[]>) =>
      infra.js.publish(infra.names.ratingBatch(partition, 'gw-test'), encodeRatingBatch(bySession), {
        msgID: ratingBatchMsgId('gw-test', 'i1', partition, batchSeq),
      });
    await publishBatch(
      1,
      new Map([
        [a, [r(a, ua, 1, 10), r(a, ua, 2, 20)]],
        [b, [r(b, ub, 1, 70)]],
      ]),
    );
    // A resend of seq 2 (a device that reconnected below the stored seq) and a new seq 3.
    await publishBatch(2, new Map([[a, [r(a, ua, 2, 20), r(a, ua, 3, 5.5)]]]));
    const askLastSeq = async (sessionId: string, userId: string) => {
      const reply = await infra.nc.request(
        infra.names.lastSeqRequest(partition),
        JSON.stringify({ sessionId, userId }),
        { timeout: 2_000 },
      );
      return LastSeqReply.parse(reply.json()).lastSeq;
    };
    await eventually(async () => ((await askLastSeq(a, ua)) === 3 ? true : undefined), 10_000, 'lastSeq 3');
    expect([await askLastSeq(b, ub), await askLastSeq(b, randomUUID())]).to.deep.equal([1, 0]);
    expect(engine.registry.get(a)!.standings.participant(ua)!.scoreCenti).to.equal(3550);
    expect(engine.registry.get(b)!.standings.participant(ub)!.scoreCenti).to.equal(7000);
    const consumer = infra.names.partitionConsumer(partition);
    await eventually(
      async () => {
        const info = await infra.jsm.consumers.info(infra.names.ratingsStream, consumer);
        return info.num_ack_pending === 0 && info.ack_floor.stream_seq >= 2 ? true : undefined;
      },
      10_000,
      'both batches acked',
    );
    const rows = await chRows<{ session_id: string; seq: number }>(
      infra,
      `SELECT session_id, seq FROM ${infra.db}.ratings FINAL ORDER BY session_id = '${a}' DESC, seq`,
    );
    expect(rows.map((x) => [x.session_id, Number(x.seq)])).to.deep.equal([
      [a, 1],
      [a, 2],
      [a, 3],
      [b, 1],
    ]);
  });
});
