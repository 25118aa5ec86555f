import { expect } from 'chai';
import { CloseCode, resultsPath, type RankFrame, type StartedFrame } from '@pulse/contracts';
import { LocalStack } from '../../src/stack.js';
import { storedRatingsOf } from '../../src/metrics/stored-ratings.js';
import { ExpectedStandings, scoresFromSent } from '../../src/verify/standings.js';
import {
  MINUTE_MS,
  SessionFixture,
  e2eStackOptions,
  framesOf,
  seededRandom,
  sleepUntil,
  describeE2e,
  resultsOf,
} from './fixture.js';

const TRAINEES = 200;
const MINUTES = 3;
const RATINGS_PER_MINUTE = 3;
const AVG_TOLERANCE = 0.005;

describeE2e('The live pipeline end to end (api, 2 gateways, engine, NATS, ClickHouse)', function () {
  this.timeout(600_000);
  let stack: LocalStack;
  let fx: SessionFixture;
  let expected: ExpectedStandings;
  let lastRanks: Map<string, RankFrame>;
  let startedAt: number;

  before(async () => {
    stack = await LocalStack.start(e2eStackOptions());
    fx = new SessionFixture(stack);
    await fx.create(TRAINEES, 'Pipeline');
  });
  after(async () => {
    await fx?.closeAll();
    const problems = await stack?.close();
    if (problems?.length) console.warn('cleanup problems:', problems);
  });

  it('welcomes every trainee into the waiting room before the start', async () => {
    await fx.connectAll();
    for (const t of fx.trainees) {
      expect(t.conn.welcome, t.account.user.name).to.include({
        state: 'waiting',
        sessionId: fx.session.id,
        lastSeq: 0,
      });
    }
    // `waiting` goes out when the count changes: the last trainees may already read all of them in `welcome`.
    await Promise.all(
      fx.trainees.map((t) =>
        t.conn.nextFrame(
          (f) => (f.type === 'waiting' || f.type === 'welcome') && f.participants === TRAINEES,
          15_000,
          true,
        ),
      ),
    );
    for (const t of fx.trainees) {
      if (t.conn.welcome!.participants < TRAINEES)
        expect(
          framesOf(t.conn, 'waiting').length,
          `${t.account.user.name}: waiting after a smaller welcome`,
        ).to.be.above(0);
    }
  });

  it('moves everyone in with `started` when the trainer starts the session', async () => {
    await fx.start();
    const started = await Promise.all(
      fx.trainees.map((t) => t.conn.nextFrame((f) => f.type === 'started', 10_000, true)),
    );
    startedAt = Date.parse((started[0] as StartedFrame).startedAt);
    for (const f of started)
      expect((f as StartedFrame).startedAt).to.equal((started[0] as StartedFrame).startedAt);
  });

  it('ranks every trainee exactly as computed from what was sent, resends counted once', async () => {
    const random = seededRandom(20_261_104);
    for (let minute = 0; minute < MINUTES; minute++) {
      // Mid-minute, so the gateway's server stamp falls in the same compressed minute as ours.
      await sleepUntil(startedAt + minute * MINUTE_MS + MINUTE_MS / 2 - 150);
      for (const t of fx.trainees) {
        for (let i = 0; i < RATINGS_PER_MINUTE; i++) fx.rate(t, random(10, 95));
      }
      fx.trainees.forEach((t, i) => {
        if (i % 4 === 0) for (let s = t.seq - RATINGS_PER_MINUTE + 1; s <= t.seq; s++) fx.resend(t, s);
      });
    }
    expected = new ExpectedStandings(scoresFromSent(fx.allSent()));
    lastRanks = await fx.settleRanks();
    const reported = fx.trainees.map((t) => ({
      userId: t.account.user.id,
      ...lastRanks.get(t.account.user.id)!,
    }));
    expect(expected.problems(reported, 'last rank frame')).to.deep.equal([]);
    for (const t of fx.trainees) {
      const rank = lastRanks.get(t.account.user.id)!;
      expect(rank.participants, t.account.user.name).to.equal(TRAINEES);
      expect(rank.seq, t.account.user.name).to.equal(MINUTES * RATINGS_PER_MINUTE);
      expect(
        t.conn.errors.size,
        `${t.account.user.name} errors ${JSON.stringify([...t.conn.errors])}`,
      ).to.equal(0);
      expect(t.conn.protocolViolations, t.account.user.name).to.deep.equal([]);
    }
  });

  it('shows everyone the same top 10, which matches the computed ranking', () => {
    const top = lastRanks.get(fx.trainees[0].account.user.id)!.top;
    expect(top.map((e) => e.score)).to.deep.equal(expected.topScores(10));
    for (const e of top) expect(e.score, e.name).to.equal(expected.scores.get(e.userId));
    expect(top.map((e) => e.rank)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const r of lastRanks.values()) expect(r.top).to.deep.equal(top);
  });

  it('tells every client `ended` with the results path and its last counted seq, and closes with 4410', async () => {
    await fx.end();
    await Promise.all(fx.trainees.map((t) => t.conn.nextFrame((f) => f.type === 'ended', 10_000, true)));
    const codes = await Promise.all(fx.trainees.map((t) => t.conn.closed));
    for (const t of fx.trainees) {
      // lastSeq (issue 14's end barrier): every rating of the trainee was counted before the end.
      expect(framesOf(t.conn, 'ended')).to.deep.equal([
        { type: 'ended', resultsPath: resultsPath(fx.session.id), lastSeq: t.seq },
      ]);
    }
    expect(new Set(codes)).to.deep.equal(new Set([CloseCode.SESSION_CLOSED]));
  });

  it('serves final results that agree with the computed ranking and the last rank frames', async () => {
    const results = await fx.resultsWhen((items) => expected.problems(items, 'results').length === 0);
    expect(expected.problems(results.items, 'results')).to.deep.equal([]);
    const names = new Map(fx.trainees.map((t) => [t.account.user.id, t.account.user.name]));
    for (const item of results.items) {
      expect(item.name).to.equal(names.get(item.userId));
      expect(item.calories, item.name).to.be.greaterThan(0);
      if (expected.isUnique(item.userId))
        expect(item.rank, item.name).to.equal(lastRanks.get(item.userId)!.rank);
    }
  });

  it('gives a trainee their own rank, score and per-minute energy in `me`', async () => {
    for (const t of fx.trainees.slice(0, 6)) {
      const page = await resultsOf(t.account, fx.session.id, { limit: 10 });
      const mine = t.sent.filter((s) => !s.resend);
      const score = expected.scores.get(t.account.user.id)!;
      const [lo, hi] = expected.rankRange(t.account.user.id);
      expect(page.me, t.account.user.name).to.not.equal(undefined);
      expect(page.me!.score).to.equal(score);
      expect(page.me!.rank).to.be.within(lo, hi);
      // Averages are presented rounded (the API gives 2 decimals); sums and counts are exact.
      expect(page.me!.avgEnergy).to.be.closeTo(score / mine.length, AVG_TOLERANCE);
      // Buckets follow the server time the gateway stamped on each rating (not our send time, which a busy
      // machine can delay by seconds): minute = floor((ts - startedAt) / MINUTE_MS), as documented.
      const stored = await storedRatingsOf(
        stack.infra.clickhouseUrl,
        stack.isolation.clickhouseDb,
        fx.session.id,
        t.account.user.id,
      );
      expect(stored.map((r) => [r.seq, r.energy])).to.deep.equal(mine.map((s) => [s.seq, s.energy]));
      const byMinute = new Map<number, number[]>();
      for (const r of stored) {
        const minute = Math.floor((r.tsMs - startedAt) / MINUTE_MS);
        byMinute.set(minute, [...(byMinute.get(minute) ?? []), r.energy]);
      }
      const minutes = [...byMinute.entries()]
        .sort(([a], [b]) => a - b)
        .map(([minute, energies]) => ({
          minute,
          samples: energies.length,
          maxEnergy: Math.max(...energies),
          avgEnergy: energies.reduce((a, b) => a + b) / energies.length,
        }));
      const withoutAvg = (list: typeof minutes) => list.map((m) => ({ ...m, avgEnergy: 0 }));
      expect(withoutAvg(page.me!.minutes)).to.deep.equal(withoutAvg(minutes));
      page.me!.minutes.forEach((m, i) =>
        expect(m.avgEnergy, `minute ${i}`).to.be.closeTo(minutes[i].avgEnergy, AVG_TOLERANCE),
      );
    }
  });

  it('stores every rating in ClickHouse exactly once', async () => {
    const total = TRAINEES * MINUTES * RATINGS_PER_MINUTE;
    const stored = await fx.storedWhen(total);
    expect({ stored: stored.stored, unique: stored.unique }).to.deep.equal({ stored: total, unique: total });
    for (const t of fx.trainees) {
      expect(stored.perUser.get(t.account.user.id), t.account.user.name).to.deep.equal({
        count: MINUTES * RATINGS_PER_MINUTE,
        energy: expected.scores.get(t.account.user.id),
      });
    }
  });
});
