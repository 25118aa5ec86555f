import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsNames, type LiveMessage, type RatingRow } from '@pulse/contracts';
import { pino } from 'pino';
import { CheckpointUnusable } from '../../src/errors.js';
import { EngineMetrics } from '../../src/metrics.js';
import { SessionStandings, type RatingOutcome } from '../../src/scoring/standings.js';
import { SessionActor, type PartitionLink } from '../../src/session/actor.js';
import {
  CHECKPOINT_VERSION,
  checkCompatible,
  decodeCheckpoint,
  encodeCheckpoint,
  type ActorCheckpoint,
  type PartitionCheckpoint,
} from '../../src/session/checkpoint.js';
import { VersionClock } from '../../src/session/version-clock.js';
import type { RawBatcher } from '../../src/storage/raw-batcher.js';
import type { ResultsBatcher } from '../../src/storage/results-batcher.js';

const sessionId = '00000000-0000-4000-8000-000000000021';
const MINUTE_MS = 10_000;
const rule = { ratePerSec: 0.2, burst: 6 };

/** A session with ties, several minutes, a user at the edge of the allowance and one who never rated. */
function played(): SessionStandings {
  const s = new SessionStandings(sessionId, 1_000, MINUTE_MS, rule);
  const users = ['ana', 'bo', 'cy', 'dee', 'eve'];
  for (const [i, u] of users.entries()) s.join(u, `User ${u}`, 55 + i * 5, i % 2 === 0 ? '25-34' : undefined);
  for (let seq = 1; seq <= 12; seq++) {
    for (const [i, u] of users.entries()) {
      if (u === 'dee') continue; // on the board at 0
      const energy = u === 'bo' || u === 'cy' ? 40 : ((seq * 37 + i * 11) % 100) + 0.25;
      s.rate(u, seq, energy, 1_000 + seq * 2_500 + i);
    }
  }
  for (let seq = 13; seq <= 30; seq++) s.rate('eve', seq, 99, 32_000); // above the allowance
  return s;
}

function viaCheckpoint(s: SessionStandings): SessionStandings {
  const state = JSON.parse(JSON.stringify(s.capture())) as ReturnType<SessionStandings['capture']>;
  return SessionStandings.restore(sessionId, s.startedAtMs, MINUTE_MS, state, rule);
}

const board = (s: SessionStandings) =>
  s.standingRows(1, 0).map((r) => [r.user_id, r.rank, r.score, r.samples, r.calories, r.avg_energy, r.name]);
/** Every bucket: neither the played standings nor the restored ones (all marked changed) have written any yet. */
const minutes = (s: SessionStandings) =>
  s
    .takeChangedMinutes(1)
    .map((m) => [m.user_id, m.minute, m.avg_energy, m.max_energy, m.samples])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1]));

describe('Partition checkpoints: state round trip (issue 14)', () => {
  it('restores identical standings, ranks, seqs, tie order and minute buckets', () => {
    const s = played();
    const r = viaCheckpoint(s);
    expect(board(r)).to.deep.equal(board(s));
    expect(minutes(r)).to.deep.equal(minutes(s));
    // The whole snapshot: ranks, seqs, top and the age-band boards (issue 16) of those who opted in.
    expect(r.snapshot(0, 0, 100)).to.deep.equal(s.snapshot(0, 0, 100));
    expect(board(r).map((row) => row[0])).to.include.members(['bo', 'cy', 'dee']);
  });

  it('decides every later rating exactly as the original (duplicates, allowance, ties, new minutes)', () => {
    const s = played();
    const r = viaCheckpoint(s);
    const later: Array<[string, number, number, number]> = [
      ['bo', 12, 90, 40_000], // a resent seq: duplicate
      ['eve', 31, 99, 33_000], // still above the allowance
      ['eve', 32, 50, 80_000], // allowance grown back
      ['cy', 13, 10, 41_000], // breaks the bo/cy tie: cy reached it later
      ['bo', 13, 10, 42_000],
      ['dee', 1, 0, 43_000], // a first rating worth 0: no new tie order
      ['frank', 1, 5, 44_000], // a newcomer
    ];
    const outcomes = (x: SessionStandings): RatingOutcome[] =>
      later.map(([u, seq, energy, ts]) => x.rate(u, seq, energy, ts));
    const decided = outcomes(s);
    expect(decided).to.deep.equal([
      'duplicate',
      'over_allowance',
      'counted',
      'counted',
      'counted',
      'counted',
      'counted',
    ]);
    expect(outcomes(r)).to.deep.equal(decided);
    expect(board(r)).to.deep.equal(board(s));
    expect(minutes(r)).to.deep.equal(minutes(s));
    expect(s.participant('eve')!.samples).to.equal(r.participant('eve')!.samples);
  });

  it('encodes to gzip and decodes the same checkpoint; refuses garbage, another version and another partition', async () => {
    const cp = partitionCheckpoint(3, [actorCheckpoint(played())]);
    const bytes = await encodeCheckpoint(cp);
    expect(await decodeCheckpoint(3, bytes)).to.deep.equal(cp);
    const problem = (p: Promise<unknown>) =>
      p.then(
        () => 'decoded',
        (err: unknown) => (err instanceof CheckpointUnusable ? err.problem : String(err)),
      );
    expect(await problem(decodeCheckpoint(3, new TextEncoder().encode('not gzip')))).to.equal('corrupt');
    const v2 = gzipSync(JSON.stringify({ ...cp, version: CHECKPOINT_VERSION + 1 }));
    expect(await problem(decodeCheckpoint(3, v2))).to.equal('incompatible');
    const cut = gzipSync(JSON.stringify({ ...cp, actors: [{ ...cp.actors[0], standings: { order: 1 } }] }));
    expect(await problem(decodeCheckpoint(3, cut))).to.equal('corrupt');
    expect(await problem(decodeCheckpoint(4, bytes))).to.equal('corrupt');
    const standings = cp.actors[0].standings;
    for (const bad of [
      { ...standings, minutes: standings.minutes.slice(0, -1) },
      { ...standings, bands: standings.bands.map(() => 99) },
      { ...standings, names: standings.names.slice(1) },
    ]) {
      const body = gzipSync(JSON.stringify({ ...cp, actors: [{ ...cp.actors[0], standings: bad }] }));
      expect(await problem(decodeCheckpoint(3, body))).to.equal('corrupt');
    }
  });

  it('refuses a checkpoint of another consumer, beyond the delivered sequence or under other rules', () => {
    const cp = partitionCheckpoint(3, []);
    const ok = { consumerCreated: cp.consumerCreated, delivered: 321, minuteMs: MINUTE_MS, allowance: rule };
    expect(() => checkCompatible(cp, ok)).not.to.throw();
    for (const bad of [
      { ...ok, consumerCreated: '2026-01-02T00:00:00Z' },
      { ...ok, delivered: 320 },
      { ...ok, minuteMs: 60_000 },
      { ...ok, allowance: { ...rule, burst: 7 } },
    ]) {
      expect(() => checkCompatible(cp, bad)).to.throw(CheckpointUnusable, /incompatible/);
    }
  });

  it('keeps a waiting actor’s held ratings, counts them once the start is known and stores their rows', async () => {
    const rows: RatingRow[] = [];
    const link = fakeLink(rows);
    const waiting = new SessionActor(sessionId, { startedAtMs: null, following: true }, link, actorDeps());
    const rating: LiveMessage = { kind: 'rating', sessionId, userId: 'ana', seq: 1, energy: 42, ts: 5_000 };
    const join: LiveMessage = {
      kind: 'participant',
      sessionId,
      userId: 'ana',
      name: 'Ana',
      weightKg: 60,
      ts: 1,
    };
    waiting.deliver([{ entries: [join], streamSeq: 7, ack: null }], true, 0);
    waiting.deliver([{ entries: [rating], streamSeq: 8, ack: null }], true, 0);
    const cp = (await waiting.checkpoint())!;
    expect([cp.state, cp.startedAtMs, cp.held]).to.deep.equal([
      'waiting',
      null,
      [{ streamSeq: 8, entries: [rating] }],
    ]);
    await waiting.abandon();
    expect(await waiting.checkpoint()).to.equal(null); // stopped: nothing to keep

    const restored = new SessionActor(
      sessionId,
      { startedAtMs: null, following: true, restored: JSON.parse(JSON.stringify(cp)) as ActorCheckpoint },
      link,
      actorDeps(),
    );
    expect(await restored.lastSeqOf('ana')).to.equal(0);
    restored.goLive(1_000);
    expect(await restored.lastSeqOf('ana')).to.equal(1);
    expect(rows.map((r) => [r.user_id, r.seq, r.energy, r.minute])).to.deep.equal([['ana', 1, 42, 0]]);
    const again = (await restored.checkpoint())!;
    expect([again.state, again.startedAtMs, again.held, again.standings.lastSeqs]).to.deep.equal([
      'live',
      1_000,
      [],
      [1],
    ]);
    await restored.abandon();
  });

  it('keeps an ending actor’s end barrier: the gateways that sent theirs and when the end was seen', async () => {
    const link = fakeLink([]);
    const ending = new SessionActor(sessionId, { startedAtMs: 1_000, following: true }, link, actorDeps());
    const barrier: LiveMessage = { kind: 'barrier', sessionId, gatewayId: 'gw-1', ts: 9_000 };
    ending.deliver([{ entries: [barrier], streamSeq: 9, ack: null }], true, 0);
    ending.end();
    const cp = (await ending.checkpoint())!;
    expect([cp.state, cp.extra]).to.deep.equal([
      'ending',
      { endBarrier: { barriers: ['gw-1'], endSeenAtMs: 10_000 } },
    ]);
    await ending.abandon();
    const restored = new SessionActor(
      sessionId,
      { startedAtMs: 1_000, following: true, restored: JSON.parse(JSON.stringify(cp)) as ActorCheckpoint },
      link,
      { ...actorDeps(), now: () => 20_000 },
    );
    const again = (await restored.checkpoint())!;
    expect([again.state, again.extra]).to.deep.equal([
      'ending',
      { endBarrier: { barriers: ['gw-1'], endSeenAtMs: 10_000 } },
    ]);
    await restored.abandon();
  });

  it('captures and encodes a 10,000-participant, 10-minute session in well under a second', async () => {
    // Built from columns: 10,000 participants, 600 ratings each over 10 one-minute buckets.
    const userIds = [...Array(10_000).keys()].map(
      (u) => `00000000-0000-4000-8000-${String(u).padStart(12, '0')}`,
    );
    const column = (f: (u: number) => number) => userIds.map((_, u) => f(u));
    const s = SessionStandings.restore(sessionId, 0, 60_000, {
      order: 6_010_000,
      userIds,
      names: userIds.map((_, u) => `Trainee ${u}`),
      weightsKg: column((u) => 50 + (u % 60)),
      bands: column((u) => (u % 7) - 1),
      scoresCenti: column((u) => 600 * 5_000 + u * 37),
      samples: column(() => 600),
      lastSeqs: column(() => 600),
      reachedOrders: column((u) => 10_000 + u * 600),
      firstRatingsAtMs: column((u) => 1_000 + u),
      minutes: userIds.flatMap((_, u) => [
        10,
        ...[...Array(10).keys()].flatMap((m) => [m, 60 * 5_000 + u, 9_000 + m, 60]),
      ]),
    });
    const started = performance.now();
    const state = s.capture();
    const captureMs = performance.now() - started;
    const json = JSON.stringify(partitionCheckpoint(0, [actorCheckpoint(s, state)]));
    const stringifyMs = performance.now() - started - captureMs;
    const bytes = await encodeCheckpoint(partitionCheckpoint(0, [actorCheckpoint(s, state)]));
    const totalMs = performance.now() - started;
    const decodeStarted = performance.now();
    const back = await decodeCheckpoint(0, bytes);
    SessionStandings.restore(sessionId, 0, 60_000, back.actors[0].standings);
    const restoreMs = performance.now() - decodeStarted;
    console.log(
      `      10,000 × 10 min: capture ${captureMs.toFixed(0)} ms, JSON ${stringifyMs.toFixed(0)} ms (${(json.length / 1e6).toFixed(1)} MB), capture+encode ${totalMs.toFixed(0)} ms → ${(bytes.byteLength / 1e6).toFixed(2)} MB gzipped; decode+restore ${restoreMs.toFixed(0)} ms`,
    );
    expect(totalMs).to.be.below(1_000);
    expect(back.actors[0].standings.userIds).to.have.length(10_000);
  });
});

function actorCheckpoint(s: SessionStandings, state = s.capture()): ActorCheckpoint {
  return { sessionId, state: 'live', startedAtMs: s.startedAtMs, standings: state, held: [], extra: {} };
}

function partitionCheckpoint(partition: number, actors: ActorCheckpoint[]): PartitionCheckpoint {
  return {
    version: CHECKPOINT_VERSION,
    partition,
    coveredSeq: 321,
    consumerCreated: '2026-01-01T00:00:00Z',
    minuteMs: MINUTE_MS,
    allowance: rule,
    engineId: 'engine-a',
    writtenAtMs: 1_000,
    actors,
  };
}

function fakeLink(rows: RatingRow[]): PartitionLink {
  const raw = { add: (row: RatingRow | null) => row !== null && rows.push(row) } as unknown as RawBatcher;
  const results = { add: () => Promise.resolve() } as unknown as ResultsBatcher;
  return { raw, results, caughtUp: () => Promise.resolve(false), owns: () => true };
}

function actorDeps() {
  return {
    nc: { publish: () => undefined } as unknown as NatsConnection,
    names: natsNames('t1'),
    metrics: new EngineMetrics(),
    log: pino({ level: 'silent' }),
    versions: new VersionClock(),
    now: () => 10_000,
    minuteMs: MINUTE_MS,
    allowance: rule,
    gateways: { settled: () => true, holding: () => [] },
    endBarrierMaxWaitMs: 10_000,
  };
}
