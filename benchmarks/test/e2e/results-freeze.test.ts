/* eslint-disable @typescript-eslint/no-explicit-any -- REST replies are untyped JSON */
import { expect } from 'chai';
import { LocalStack } from '../../src/stack.js';
import { sleep, waitFor } from '../../src/stack/ports.js';
import { ExpectedStandings, scoresFromSent } from '../../src/verify/standings.js';
import { rawRatings, resultsFromRatings, DEFAULT_WEIGHT_KG } from '../../src/verify/results-from-ratings.js';
import {
  SessionFixture,
  e2eStackOptions,
  seededRandom,
  describeE2e,
  MINUTE_MS,
  registerAndJoin,
  signUpTrainees,
  type Account,
} from './fixture.js';

const TRAINEES = 12;
const ROUNDS = 14;
const PAGE = 5;

describeE2e(
  'Frozen results (issue 13): exact against the raw ratings, also when the engine dies at the end',
  function () {
    this.timeout(300_000);
    let stack: LocalStack;

    before(async () => {
      // A short ack wait so that JetStream redelivers what a dead engine held within the test's patience.
      stack = await LocalStack.start(
        e2eStackOptions({ gateways: 1, env: { 'live-engine': { ACK_WAIT_MS: '3000' } } }),
      );
    });
    after(() => stack?.close());

    /**
     * A session with TRAINEES connected trainees (the last one silent), one more who joined but never
     * connected, ~3 compressed minutes of ratings with resends; ranks settled before it returns.
     */
    async function played(prefix: string, seed: number) {
      const fx = new SessionFixture(stack);
      await fx.create(TRAINEES, prefix);
      const [absent] = await signUpTrainees(stack, 1, `${prefix} Absent`);
      await registerAndJoin(fx.session.id, [absent]);
      await fx.connectAll();
      await fx.start();
      await Promise.all(fx.trainees.map((t) => t.conn.nextFrame((f) => f.type === 'started', 10_000, true)));
      const random = seededRandom(seed);
      const raters = fx.trainees.slice(0, -1);
      for (let round = 1; round <= ROUNDS; round++) {
        for (const t of raters) fx.rate(t, random(0, 10_000) / 100);
        if (round % 5 === 0) for (const t of raters.slice(0, 3)) fx.resend(t, t.seq - 1);
        await sleep(Math.round((MINUTE_MS * 3) / ROUNDS));
      }
      await fx.settleRanks(60_000);
      return { fx, absent };
    }

    /**
     * One results request through the SDK's generated client, which leaves the HTTP answer visible: these
     * checks are about the status codes and caching headers of frozen results (202, ETag, 304).
     */
    async function pollResults(
      fx: SessionFixture,
      account: Account,
      query: { limit?: number; cursor?: string } = {},
      headers: Record<string, string> = {},
    ) {
      const { data, error, response } = await account.client.api.GET('/v1/sessions/{id}/results', {
        params: { path: { id: fx.session.id }, query },
        headers,
      });
      return { status: response.status, headers: response.headers, body: data ?? error };
    }

    /** Frozen results and history, page by page and caller by caller, against the raw ratings. */
    async function expectExact(fx: SessionFixture, absent: Account) {
      const connected = fx.trainees.map((t) => t.account.user.id);
      const weights = new Map(fx.trainees.map((t) => [t.account.user.id, t.account.user.weightKg]));
      const raw = await rawRatings(stack.infra.clickhouseUrl, stack.isolation.clickhouseDb, fx.session.id);
      const computed = resultsFromRatings(raw, connected, (id) => weights.get(id) ?? DEFAULT_WEIGHT_KG);
      // The raw rows are what was sent, each seq once: nothing lost or doubled on the way.
      const sentScores = scoresFromSent(fx.allSent());
      for (const id of connected)
        expect(computed.get(id)!.score, id).to.equal(Math.round((sentScores.get(id) ?? 0) * 100) / 100);
      const standings = new ExpectedStandings(new Map([...computed].map(([id, r]) => [id, r.score])));

      // The whole board, PAGE at a time, as the trainer.
      const board: any[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await pollResults(fx, fx.trainer, { limit: PAGE, ...(cursor ? { cursor } : {}) });
        expect(page.status).to.equal(200);
        expect(page.body.final).to.equal(true);
        expect(page.body.leaderboard.items.length).to.be.at.most(PAGE);
        board.push(...page.body.leaderboard.items);
        cursor = page.body.leaderboard.nextCursor;
      } while (cursor !== null);
      expect(board.map((b) => b.rank)).to.deep.equal(connected.map((_, i) => i + 1));
      expect(standings.problems(board, 'board')).to.deep.equal([]);
      for (const b of board) expect(b.calories, b.userId).to.equal(computed.get(b.userId)!.calories);

      // Every participant's own `me`, and 304 when it asks again with the ETag.
      for (const t of fx.trainees) {
        const id = t.account.user.id;
        const res: any = await pollResults(fx, t.account, { limit: PAGE });
        expect(res.status).to.equal(200);
        const want = computed.get(id)!;
        const { rank, band, following, personalBest, ...numbers } = res.body.me;
        const [lo, hi] = standings.rankRange(id);
        expect(rank, `${t.account.user.name} rank`).to.be.within(lo, hi);
        // Issue 16: nobody opted in to band boards or follows anyone; a first class of its type is a best.
        expect({ band, following, personalBest }).to.deep.equal({
          band: null,
          following: null,
          personalBest: true,
        });
        expect(numbers, t.account.user.name).to.deep.equal({
          score: want.score,
          calories: want.calories,
          avgEnergy: want.avgEnergy,
          minutes: want.minutes,
        });
        const etag = res.headers.get('etag');
        const again = await pollResults(fx, t.account, { limit: PAGE }, { 'if-none-match': etag });
        expect(again.status).to.equal(304);
      }
      const absentView: any = await pollResults(fx, absent);
      expect(absentView.status).to.equal(200);
      expect(absentView.body).to.not.have.property('me');

      // History from the same frozen rows.
      const rider = fx.trainees[0].account;
      // Results may come from the decided board before its rows are committed; history lists committed rows.
      const entry = await waitFor('the class in the rider’s history', async () => {
        const [first] = (await rider.client.history({ limit: 1 })).items;
        return first?.session.id === fx.session.id ? first : undefined;
      });
      const mine = ((await pollResults(fx, rider)).body as any).me;
      expect(entry.session.id).to.equal(fx.session.id);
      expect(entry).to.deep.include({
        rank: mine.rank,
        participants: TRAINEES,
        score: computed.get(rider.user.id)!.score,
        calories: computed.get(rider.user.id)!.calories,
        avgEnergy: computed.get(rider.user.id)!.avgEnergy,
      });
      const absentHistory = await waitFor('the class in the absent trainee’s history', async () => {
        const page = await absent.client.history();
        return page.items.length > 0 ? page : undefined;
      });
      expect(absentHistory.items.map((i) => i.session.id)).to.deep.equal([fx.session.id]);
      expect(absentHistory.items[0]).to.deep.include({ rank: null, score: null });
    }

    it('answers 202 while the engine is down at the end, then freezes the exact results once it is back', async () => {
      const { fx, absent } = await played('Down', 11);
      await stack.kill('engine-1');
      await fx.end();
      const deadline = Date.now() + 2_000;
      while (Date.now() < deadline) {
        const res: any = await pollResults(fx, fx.trainees[0].account);
        expect(res.status, JSON.stringify(res.body)).to.equal(202);
        expect(res.headers.get('retry-after')).to.equal('1');
        expect(res.body.error.code).to.equal('RESULTS_PENDING');
        await sleep(250);
      }
      await stack.restart('engine-1');
      await waitFor(
        'frozen results',
        async () => ((await pollResults(fx, fx.trainer)).status === 200 ? true : undefined),
        60_000,
        200,
      );
      await expectExact(fx, absent);
      await fx.closeAll();
    });

    it('freezes the exact results when the engine is killed while it finishes the session', async () => {
      const { fx, absent } = await played('Crash', 23);
      await fx.end();
      await sleep(seededRandom(5)(0, 150)); // somewhere in the engine's finish: drain, final write
      await stack.kill('engine-1');
      await stack.restart('engine-1');
      await waitFor(
        'frozen results',
        async () => ((await pollResults(fx, fx.trainer)).status === 200 ? true : undefined),
        60_000,
        200,
      );
      await expectExact(fx, absent);
      await fx.closeAll();
    });
  },
);
