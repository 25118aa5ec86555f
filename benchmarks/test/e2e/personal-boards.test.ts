import { createClient } from '@clickhouse/client';
import { expect } from 'chai';
import { BAND_TOP_SIZE, ClickHouseTable, FOLLOWING_TOP_SIZE, type RankFrame } from '@pulse/contracts';
import { LocalStack } from '../../src/stack.js';
import { sleep, waitFor } from '../../src/stack/ports.js';
import { TraineeConnection } from '../../src/client/trainee.js';
import {
  MINUTE_MS,
  SessionFixture,
  describeE2e,
  e2eStackOptions,
  registerAndJoin,
  resultsOf,
  signUp,
  signUpTrainees,
  type Account,
} from './fixture.js';

const TRAINEES = 8;
const TYPE = 'pb-e2e';

interface Person {
  account: Account;
  name: string;
  id: string;
  band?: string;
}

/** Independent boards from what the test sent: every score is distinct, so every rank is exact. */
function expectedBoards(people: Person[], scores: Map<string, number>, follows: Map<string, Set<string>>) {
  const board = [...people].sort((a, b) => scores.get(b.id)! - scores.get(a.id)!);
  const entries = (list: Person[], size: number) =>
    list
      .slice(0, size)
      .map((p, i) => ({ rank: i + 1, userId: p.id, name: p.name, score: scores.get(p.id)! }));
  return new Map(
    people.map((p) => {
      const band = board.filter((q) => p.band !== undefined && q.band === p.band);
      const followed = follows.get(p.id) ?? new Set();
      const mine = board.filter((q) => q === p || followed.has(q.id));
      return [
        p.id,
        {
          rank: board.indexOf(p) + 1,
          band:
            p.band === undefined
              ? undefined
              : {
                  id: p.band,
                  rank: band.indexOf(p) + 1,
                  participants: band.length,
                  top: entries(band, BAND_TOP_SIZE),
                },
          following:
            mine.length < 2
              ? undefined
              : {
                  rank: mine.indexOf(p) + 1,
                  participants: mine.length,
                  top: entries(mine, FOLLOWING_TOP_SIZE),
                },
        },
      ];
    }),
  );
}

type ExpectedBoards = ReturnType<typeof expectedBoards> extends Map<string, infer B> ? B : never;

/** A frozen `me`'s band and following places against the expected boards (frozen results carry no tops). */
function expectFrozenBoards(me: { band?: unknown; following?: unknown }, want: ExpectedBoards, who: string) {
  expect(me.band, who).to.deep.equal(
    want.band === undefined
      ? null
      : { id: want.band.id, rank: want.band.rank, participants: want.band.participants },
  );
  expect(me.following, who).to.deep.equal(
    want.following === undefined
      ? null
      : { rank: want.following.rank, participants: want.following.participants },
  );
}

describeE2e(
  'Personal boards and bests end to end: bands, follows, best pace, an engine crash (issue 16)',
  function () {
    this.timeout(300_000);
    let stack: LocalStack;
    let trainer: Account;
    let people: Person[];
    /** follower id → followee ids, as the test made them through the API */
    const follows = new Map<string, Set<string>>();
    const fixtures: SessionFixture[] = [];

    before(async () => {
      stack = await LocalStack.start(
        e2eStackOptions({ gateways: 1, env: { 'live-engine': { ACK_WAIT_MS: '3000' } } }),
      );
      trainer = await signUp(stack, 'trainer', 'Coach Best');
      const accounts = await signUpTrainees(stack, TRAINEES, 'Pacer');
      // Ages count in the sessions' year (they start in an hour).
      const year = new Date(Date.now() + 3_600_000).getUTCFullYear();
      people = accounts.map((account) => ({ account, name: account.user.name, id: account.user.id }));
      // 0-3 on the 25-34 board, 4-5 on 45-54, 6-7 on none (6 told a birth year but did not opt in).
      for (const [i, p] of people.entries()) {
        if (i < 4) await p.account.client.updateProfile({ birthYear: year - 30, showOnBoards: true });
        else if (i < 6) await p.account.client.updateProfile({ birthYear: year - 50, showOnBoards: true });
        else if (i === 6) await p.account.client.updateProfile({ birthYear: year - 30 });
        p.band = i < 4 ? '25-34' : i < 6 ? '45-54' : undefined;
      }
      await follow(people[0], people[2]);
      await follow(people[0], people[5]);
      await follow(people[0], people[7]);
      await follow(people[6], people[0]);
    });
    after(async () => {
      for (const fx of fixtures) await fx.closeAll();
      await stack?.close();
    });

    async function follow(who: Person, whom: Person) {
      await who.account.client.follow(whom.id);
      if (!follows.has(who.id)) follows.set(who.id, new Set());
      follows.get(who.id)!.add(whom.id);
    }
    async function unfollow(who: Person, whom: Person) {
      await who.account.client.unfollow(whom.id);
      follows.get(who.id)?.delete(whom.id);
    }

    /** A class of TYPE with everyone joined and connected (one gateway), live. */
    async function liveClass(title: string): Promise<{ fx: SessionFixture; startedAtMs: number }> {
      const fx = new SessionFixture(stack);
      fixtures.push(fx);
      fx.trainer = trainer;
      fx.session = await trainer.client.createSession({
        title,
        type: TYPE,
        durationMinutes: 30,
        capacity: 100,
        startsAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
      const joins = await registerAndJoin(
        fx.session.id,
        people.map((p) => p.account),
      );
      fx.trainees = people.map((p, i) => ({
        account: p.account,
        conn: new TraineeConnection(stack.gatewayUrls[0], joins[i].ticket, {
          validate: 'full',
          keepFrames: true,
        }),
        sent: [],
        seq: 0,
      }));
      await fx.connectAll();
      await fx.start();
      await Promise.all(fx.trainees.map((t) => t.conn.nextFrame((f) => f.type === 'started', 10_000, true)));
      const session = await trainer.client.getSession(fx.session.id);
      return { fx, startedAtMs: Date.parse(session.startedAt!) };
    }

    /** One rating per trainee; trainee i's energy depends on i only (plus k % 5), so scores never tie. */
    function round(fx: SessionFixture, k: number, energyOf: (i: number) => number) {
      fx.trainees.forEach((t, i) => fx.rate(t, energyOf(i) + (k % 5)));
    }

    const scoresOf = (fx: SessionFixture) =>
      new Map(fx.trainees.map((t) => [t.account.user.id, t.sent.reduce((s, r) => s + r.energy, 0)]));

    /** Each trainee's last frame against the independent boards. */
    function checkFrames(fx: SessionFixture, last: Map<string, RankFrame>, when: string) {
      const expected = expectedBoards(people, scoresOf(fx), follows);
      for (const p of people) {
        const frame = last.get(p.id)!;
        const want = expected.get(p.id)!;
        expect(frame.rank, `${when}: ${p.name} rank`).to.equal(want.rank);
        expect(frame.band, `${when}: ${p.name} band`).to.deep.equal(want.band);
        expect(frame.following, `${when}: ${p.name} following`).to.deep.equal(want.following);
      }
    }

    /** The per-minute cumulative scores of `userId` in a session, from the raw ratings ClickHouse stored. */
    async function curveFromRawRatings(sessionId: string, userId: string, startedAtMs: number) {
      const { infra, isolation } = stack;
      const ch = createClient({ url: infra.clickhouseUrl, database: isolation.clickhouseDb });
      try {
        const rs = await ch.query({
          query: `SELECT ts_ms, energy FROM ${isolation.clickhouseDb}.${ClickHouseTable.RATINGS} FINAL
                WHERE session_id = '${sessionId}' AND user_id = '${userId}'`,
          format: 'JSONEachRow',
        });
        const perMinute: number[] = [];
        for (const r of await rs.json<{ ts_ms: string; energy: number }>()) {
          const minute = Math.max(0, Math.floor((Number(r.ts_ms) - startedAtMs) / MINUTE_MS));
          perMinute[minute] = (perMinute[minute] ?? 0) + Math.round(Number(r.energy) * 100);
        }
        let centi = 0;
        return Array.from({ length: perMinute.length }, (_, m) => (centi += perMinute[m] ?? 0) / 100);
      } finally {
        await ch.close();
      }
    }

    const paceAt = (curve: number[], m: number) => (m < curve.length ? curve[m] : curve.at(-1)!);

    it('ranks bands and follows exactly live and in results, paces every frame against the best, across a crash', async () => {
      // Class 1: everybody's first of the type (a personal best each), over about three minutes.
      const one = await liveClass('Best 1');
      for (let k = 0; k < 8; k++) {
        round(one.fx, k, (i) => 10 + 7 * i);
        await sleep(700);
      }
      checkFrames(one.fx, await one.fx.settleRanks(60_000), 'class 1');
      await one.fx.end();
      const firstScores = scoresOf(one.fx);
      const expectedOne = expectedBoards(people, firstScores, follows);
      for (const p of people) {
        const { me } = await resultsOf(p.account, one.fx.session.id);
        const want = expectedOne.get(p.id)!;
        expect(me, p.name).to.deep.include({
          rank: want.rank,
          score: firstScores.get(p.id),
          personalBest: true,
        });
        expectFrozenBoards(me!, want, p.name);
      }
      const curves = new Map<string, number[]>();
      for (const p of people)
        curves.set(p.id, await curveFromRawRatings(one.fx.session.id, p.id, one.startedAtMs));
      for (const p of people) expect(curves.get(p.id)!.at(-1), p.name).to.equal(firstScores.get(p.id));

      // Class 2: 0-3 do worse, 4-7 better; 0 shows the following board as main, 6 (no band) may not show `band`.
      const two = await liveClass('Best 2');
      const [t0, , , , , , t6] = two.fx.trainees;
      t0.conn.sendRaw('{"type":"board","main":"following"}');
      t6.conn.sendRaw('{"type":"board","main":"band"}');
      await t6.conn.nextFrame((f) => f.type === 'error' && f.code === 'BOARD_UNAVAILABLE', 5_000);
      const energyTwo = (i: number) => (i < 4 ? (10 + 7 * i) / 2 : 15 + 7 * i);
      const pid = stack.process('engine-1').pid;
      for (let k = 0; k < 10; k++) {
        round(two.fx, k, energyTwo);
        if (k === 3) {
          await sleep(50);
          await stack.kill('engine-1');
        }
        if (k === 6) await stack.restart('engine-1');
        await sleep(500);
      }
      expect(stack.process('engine-1').pid).to.not.equal(pid);
      checkFrames(two.fx, await two.fx.settleRanks(60_000), 'class 2 after the engine crash and replay');

      // A follow change during the class: 0 stops following 5 and follows 1; the boards follow it.
      await unfollow(people[0], people[5]);
      await follow(people[0], people[1]);
      const expectedNow = expectedBoards(people, scoresOf(two.fx), follows).get(people[0].id)!;
      await waitFor(
        'the follow change in a rank frame',
        async () => {
          const frame = t0.conn.lastRank;
          return frame?.following?.top.some((e) => e.userId === people[1].id) ? true : undefined;
        },
        15_000,
        50,
      );
      round(two.fx, 10, energyTwo);
      const afterFollow = await two.fx.settleRanks(60_000);
      checkFrames(two.fx, afterFollow, 'class 2 after the follow change');
      expect(afterFollow.get(people[0].id)!.following!.participants).to.equal(
        expectedNow.following!.participants,
      );

      // Every rank frame of the class: the best's pace at the frame's elapsed minute, the main board.
      for (const [i, t] of two.fx.trainees.entries()) {
        const p = people[i];
        const frames = t.conn.frames.filter((f): f is RankFrame => f.type === 'rank');
        expect(frames.length, p.name).to.be.greaterThan(5);
        for (const frame of frames) {
          const minute = Math.max(0, Math.floor((Date.parse(frame.at) - two.startedAtMs) / MINUTE_MS));
          expect(frame.best, `${p.name} at ${frame.at}`).to.deep.equal({
            sessionId: one.fx.session.id,
            score: firstScores.get(p.id),
            minute,
            atMinute: paceAt(curves.get(p.id)!, minute),
          });
        }
        const chosen = frames.filter((f) => f.main !== undefined);
        if (i === 0) {
          expect(chosen.length).to.equal(frames.length - frames.findIndex((f) => f.main !== undefined));
          expect(chosen.every((f) => f.main === (f.following === undefined ? 'all' : 'following'))).to.equal(
            true,
          );
        } else expect(chosen, p.name).to.deep.equal([]);
        expect([...t.conn.errors.keys()], p.name).to.deep.equal(i === 6 ? ['BOARD_UNAVAILABLE'] : []);
        expect(t.conn.protocolViolations, p.name).to.deep.equal([]);
      }

      await two.fx.end();
      const secondScores = scoresOf(two.fx);
      const expectedTwo = expectedBoards(people, secondScores, follows);
      for (const [i, p] of people.entries()) {
        const { me } = await resultsOf(p.account, two.fx.session.id);
        const want = expectedTwo.get(p.id)!;
        expect(me, p.name).to.deep.include({
          rank: want.rank,
          score: secondScores.get(p.id),
          personalBest: i >= 4,
        });
        expectFrozenBoards(me!, want, p.name);
      }
      // Results may come from the decided board before its rows are committed; history lists committed rows.
      const history = await waitFor('the second class in history', async () => {
        const page = await people[0].account.client.history({ limit: 2 });
        return page.items[0]?.session.id === two.fx.session.id ? page : undefined;
      });
      expect(history.items.map((h) => [h.session.id, h.personalBest])).to.deep.equal([
        [two.fx.session.id, false],
        [one.fx.session.id, true],
      ]);
    });
  },
);
