/* eslint-disable @typescript-eslint/no-explicit-any -- replies are untyped JSON */
import { expect } from 'chai';
import {
  BEST_CURVE_MAX_MINUTES,
  ClickHouseTable,
  JoinTicketClaims,
  type MinuteRow,
  type StandingRow,
} from '@pulse/contracts';
import { TestApi, until } from '../harness.js';
import type { TestUser } from '../harness.js';
import { bestCurve } from '../../src/results/personal-best.js';

/** A participant's ratings: minute → energies in hundredths (what the engine counted). */
type Ratings = Map<number, number[]>;

/** Deterministic energies (hundredths) so a failure reproduces. */
function ratingsOf(seed: number, minutes: number): Ratings {
  let x = seed;
  const next = () => (x = (x * 1_103_515_245 + 12_345) % 2_147_483_648);
  const out: Ratings = new Map();
  for (let m = 0; m < minutes; m++) {
    if (next() % 5 === 0) continue; // some minutes without a reading
    out.set(
      m,
      Array.from({ length: 1 + (next() % 7) }, () => next() % 10_001),
    );
  }
  return out;
}

const sumOf = (r: Ratings) => [...r.values()].flat().reduce((a, b) => a + b, 0);

/** The claims of a join ticket (the gateway verifies the signature; here only the payload matters). */
function claimsOf(ticket: string): JoinTicketClaims {
  const payload = JSON.parse(Buffer.from(ticket.split('.')[1], 'base64url').toString('utf8'));
  return JoinTicketClaims.parse({ ...payload, sub: payload.sub });
}

describe('personal boards in results and history, personal bests in tickets (issue 16, real PostgreSQL and ClickHouse)', () => {
  let api: TestApi;
  let coach: TestUser;
  let ann: TestUser;
  let bob: TestUser;
  let cid: TestUser;
  let dee: TestUser;
  const thisYear = new Date().getUTCFullYear();

  before(async () => {
    api = await TestApi.start();
    coach = await api.user('trainer');
    [ann, bob, cid, dee] = await Promise.all(['Ann', 'Bob', 'Cid', 'Dee'].map((n) => api.user('trainee', n)));
    const profile = (u: TestUser, body: object) => api.call('PATCH', '/v1/me', { token: u.token, body });
    // Ann and Bob on the 25-34 board, Cid on 45-54, Dee on none (no opt-in).
    await profile(ann, { birthYear: thisYear - 30, showOnBoards: true });
    await profile(bob, { birthYear: thisYear - 28, showOnBoards: true });
    await profile(cid, { birthYear: thisYear - 50, showOnBoards: true });
    await profile(dee, { birthYear: thisYear - 30, showOnBoards: false });
    // Ann follows Cid and Dee; Dee follows Ann; Bob and Cid follow nobody.
    for (const [who, whom] of [
      [ann, cid],
      [ann, dee],
      [dee, ann],
    ] as const)
      expect((await api.call('PUT', `/v1/users/${whom.id}/follow`, { token: who.token })).status).to.equal(
        204,
      );
  });
  after(() => api.close());

  /** Registers and joins everyone (returning their ticket claims), starts and ends the session. */
  async function classOf(type: string, trainees: TestUser[]) {
    const s = await api.session(coach, { type });
    const claims = new Map<string, JoinTicketClaims>();
    for (const t of trainees) {
      await api.call('POST', `/v1/sessions/${s.id}/registrations`, { token: t.token });
      const join = await api.call('POST', `/v1/sessions/${s.id}/join`, { token: t.token });
      expect(join.status).to.equal(200);
      claims.set(t.id, claimsOf(join.body.ticket));
    }
    await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    await api.call('POST', `/v1/sessions/${s.id}/end`, { token: coach.token });
    return { id: s.id as string, claims };
  }

  /** Final standings in rank order (ties by id), as the engine ranks them. */
  function orderOf(ratings: Map<TestUser, Ratings>) {
    return [...ratings.entries()].sort((a, b) => sumOf(b[1]) - sumOf(a[1]) || (a[0].id < b[0].id ? -1 : 1));
  }

  /**
   * Writes what the engine writes at the end of each class (final standings in rank order with each one's ticket
   * band, exact per-minute sums), every class in the same three inserts: a freeze sees all of them final or none.
   */
  async function writeFinal(
    classes: Array<{
      sessionId: string;
      claims: Map<string, JoinTicketClaims>;
      ratings: Map<TestUser, Ratings>;
    }>,
  ) {
    const standings: StandingRow[] = [];
    const minutes: MinuteRow[] = [];
    for (const { sessionId, claims, ratings } of classes) {
      const order = orderOf(ratings);
      order.forEach(([u, r], i) => {
        standings.push({
          session_id: sessionId,
          user_id: u.id,
          name: u.name,
          rank: i + 1,
          participants: order.length,
          score: sumOf(r) / 100,
          calories: 1,
          avg_energy: 1,
          samples: [...r.values()].flat().length,
          final: 1,
          version: 7,
          band: claims.get(u.id)?.band ?? '',
        });
        for (const [minute, energies] of r)
          minutes.push({
            session_id: sessionId,
            user_id: u.id,
            minute,
            avg_energy: Math.round(energies.reduce((a, b) => a + b, 0) / energies.length) / 100,
            max_energy: Math.max(...energies) / 100,
            samples: energies.length,
            version: 7,
            sum_centi: energies.reduce((a, b) => a + b, 0),
          });
      });
    }
    const db = api.config.CLICKHOUSE_DB;
    const insert = (table: string, values: object[]) =>
      api.clickhouse.insert({ table: `${db}.${table}`, values, format: 'JSONEachRow' });
    await insert(ClickHouseTable.STANDINGS, standings);
    await insert(ClickHouseTable.MINUTES, minutes);
    await insert(
      ClickHouseTable.SESSION_RESULTS,
      classes.map(({ sessionId, ratings }) => ({
        session_id: sessionId,
        participants: ratings.size,
        final: 1,
        updated_at: 1_795_600_000,
        version: 7,
      })),
    );
  }

  /** Each trainee's results of the session, asked until frozen. */
  async function resultsOf(sessionId: string, users: TestUser[]) {
    const results = new Map<TestUser, any>();
    for (const u of users) {
      for (let i = 0; ; i++) {
        const res = await api.call('GET', `/v1/sessions/${sessionId}/results`, { token: u.token });
        if (res.status === 200) {
          results.set(u, res);
          break;
        }
        expect(res.status).to.equal(202);
        if (i > 200) throw new Error('results never froze');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return results;
  }

  /** Writes one class's final rows, then reads the frozen results of every trainee. */
  async function freeze(
    sessionId: string,
    claims: Map<string, JoinTicketClaims>,
    ratings: Map<TestUser, Ratings>,
  ) {
    await writeFinal([{ sessionId, claims, ratings }]);
    const order = orderOf(ratings);
    return {
      order,
      results: await resultsOf(
        sessionId,
        order.map(([u]) => u),
      ),
    };
  }

  /** The board computations, done independently of the API: by score, ties by whole-board rank. */
  function expectedBoards(order: Array<[TestUser, Ratings]>, claims: Map<string, JoinTicketClaims>) {
    const following = new Map<TestUser, TestUser[]>([
      [ann, [cid, dee]],
      [dee, [ann]],
    ]);
    const inClass = new Set(order.map(([u]) => u));
    return new Map(
      order.map(([u], i) => {
        const band = claims.get(u.id)?.band;
        const sameBand = order.filter(([v]) => band !== undefined && claims.get(v.id)?.band === band);
        const mine = (following.get(u) ?? []).filter((v) => inClass.has(v));
        const board = order.filter(([v]) => v === u || mine.includes(v));
        return [
          u,
          {
            rank: i + 1,
            band:
              band === undefined
                ? null
                : { id: band, rank: sameBand.findIndex(([v]) => v === u) + 1, participants: sameBand.length },
            following:
              mine.length === 0
                ? null
                : { rank: board.findIndex(([v]) => v === u) + 1, participants: board.length },
          },
        ];
      }),
    );
  }

  it('freezes each trainee’s band and following ranks and first-class personal bests, the same in history', async () => {
    const { id, claims } = await classOf('pb-yoga', [ann, bob, cid, dee]);
    expect(claims.get(ann.id)?.band).to.equal('25-34');
    expect(claims.get(cid.id)?.band).to.equal('45-54');
    expect(claims.get(dee.id)?.band).to.equal(undefined);
    expect(claims.get(ann.id)?.best).to.equal(undefined);
    const ratings = new Map([ann, bob, cid, dee].map((u, i) => [u, ratingsOf(11 + i, 12)]));
    const { order, results } = await freeze(id, claims, ratings);
    const expected = expectedBoards(order, claims);
    for (const [u] of order) {
      const me = results.get(u).body.me;
      const want = expected.get(u)!;
      expect(me.rank, u.name).to.equal(want.rank);
      expect(me.band, u.name).to.deep.equal(want.band);
      expect(me.following, u.name).to.deep.equal(want.following);
      expect(me.personalBest, u.name).to.equal(true); // a first class of a type is a best
    }
    // A results request may be answered from the decided board before its rows are committed; history reads
    // the committed rows, so the session is listed moments later.
    const history = await until(async () => {
      const res = await api.call('GET', '/v1/me/history?limit=1', { token: ann.token });
      return res.body.items?.[0]?.session.id === id ? res : undefined;
    });
    expect(history.body.items[0].session.id).to.equal(id);
    expect(history.body.items[0]).to.deep.include({
      band: expected.get(ann)!.band,
      following: expected.get(ann)!.following,
      personalBest: true,
    });
  });

  it('puts the exact best curve in the next ticket of the type and flags only beaten bests (issue 16)', async () => {
    const type = 'pb-rowing';
    const first = await classOf(type, [ann, bob]);
    const annFirst = ratingsOf(101, 9);
    const bobFirst = ratingsOf(102, 9);
    await freeze(
      first.id,
      first.claims,
      new Map([
        [ann, annFirst],
        [bob, bobFirst],
      ]),
    );

    const second = await classOf(type, [ann, bob]);
    const best = second.claims.get(ann.id)!.best!;
    expect(best.sid).to.equal(first.id);
    expect(best.score).to.equal(sumOf(annFirst) / 100);
    // Independent: cumulative hundredths per minute, minutes without readings add nothing.
    let centi = 0;
    const curve = Array.from({ length: Math.max(...annFirst.keys()) + 1 }, (_, m) => {
      centi += (annFirst.get(m) ?? []).reduce((a, b) => a + b, 0);
      return centi / 100;
    });
    expect(best.curve).to.deep.equal(curve);
    expect(best.curve!.at(-1)).to.equal(best.score);
    expect(best.complete).to.equal(true);
    // Another type has no best yet.
    const other = await classOf('pb-other', [ann]);
    expect(other.claims.get(ann.id)!.best).to.equal(undefined);

    // Ann does worse, Bob better than the first time.
    const annSecond = new Map([[0, [1]]]);
    const bobSecond = new Map([[0, [sumOf(bobFirst) + 1]]]);
    const { results } = await freeze(
      second.id,
      second.claims,
      new Map([
        [ann, annSecond],
        [bob, bobSecond],
      ]),
    );
    expect(results.get(ann).body.me.personalBest).to.equal(false);
    expect(results.get(bob).body.me.personalBest).to.equal(true);
    const third = await classOf(type, [ann, bob]);
    expect(third.claims.get(bob.id)!.best!.sid).to.equal(second.id);
    expect(third.claims.get(ann.id)!.best!.sid).to.equal(first.id);
  });

  it('flags bests among classes of a type frozen in the same batch, the earlier-ended class first', async () => {
    const type = 'pb-batch';
    const first = await classOf(type, [ann, bob]);
    const second = await classOf(type, [ann, bob]); // ended after the first
    const one = (energy: number): Ratings => new Map([[0, [energy]]]);
    await writeFinal([
      {
        sessionId: first.id,
        claims: first.claims,
        ratings: new Map([
          [ann, one(5_000)],
          [bob, one(9_000)],
        ]),
      },
      {
        sessionId: second.id,
        claims: second.claims,
        ratings: new Map([
          [ann, one(9_000)],
          [bob, one(5_000)],
        ]),
      },
    ]);
    // Asked in one turn of the event loop: one batch, one transaction (or the watch's batch, with both).
    expect(await Promise.all([api.freezer.freeze(first.id), api.freezer.freeze(second.id)])).to.deep.equal([
      'frozen',
      'frozen',
    ]);
    const firstResults = await resultsOf(first.id, [ann, bob]);
    const secondResults = await resultsOf(second.id, [ann, bob]);
    // A first class of the type is a best; in the second, Ann beat her 50, Bob did not beat his 90.
    expect(firstResults.get(ann).body.me.personalBest).to.equal(true);
    expect(firstResults.get(bob).body.me.personalBest).to.equal(true);
    expect(secondResults.get(ann).body.me.personalBest).to.equal(true);
    expect(secondResults.get(bob).body.me.personalBest).to.equal(false);
  });

  it('finds a best with one lookup of session_result_best_index, also among 1,000 classes (no sort, no join)', async () => {
    const type = 'pb-heavy';
    // 1,000 frozen rows of one trainee, half of them of the type, written as the freeze writes them.
    await api.orm.em.fork().execute(
      `with s as (
         insert into workout_session (id, trainer_id, title, type, starts_at, duration_minutes, capacity, status,
           created_at, ended_at)
         select gen_random_uuid(), ?, 'heavy ' || i, case when i % 2 = 0 then ? else 'pb-heavy-other' end,
           now() - (i || ' hours')::interval, 30, 10, 'ended', now(), now() - (i || ' hours')::interval
         from generate_series(1, 1000) as i
         returning id, type, ended_at)
       insert into session_result (session_id, user_id, rank, name, score, minutes, ended_at, session_type)
       select s.id, ?, 1, 'Dee', (abs(hashtext(s.id::text)) % 100000) / 100.0, '[]'::jsonb, s.ended_at, s.type
       from s`,
      [coach.id, type, dee.id],
    );
    const expected = await api.orm.em.fork().execute(
      `select r.session_id, r.score from session_result r join workout_session s on s.id = r.session_id
       where r.user_id = ? and s.type = ? and r.score is not null
       order by r.score desc, r.ended_at, r.session_id limit 1`,
      [dee.id, type],
    );
    const { claims } = await classOf(type, [dee]);
    expect(claims.get(dee.id)!.best).to.include({ sid: expected[0].session_id, score: expected[0].score });
    await api.orm.em.fork().execute('analyze session_result');
    const plan = (
      await api.orm.em.fork().execute(
        `explain select r.session_id, r.score, r.minutes from session_result r
         where r.user_id = '${dee.id}' and r.session_type = '${type}' and r.score is not null
         order by r.score desc, r.ended_at, r.session_id limit 1`,
      )
    )
      .map((p: Record<string, string>) => p['QUERY PLAN'])
      .join('\n');
    expect(plan).to.match(/Index Scan using session_result_best_index/);
    expect(plan).to.not.match(/Sort|Join|Nested Loop/);
  });

  it('keeps a frozen answer and its ETag when follows change after the class', async () => {
    const { id, claims } = await classOf('pb-spin', [ann, cid, dee]);
    const { results } = await freeze(
      id,
      claims,
      new Map([
        [ann, ratingsOf(201, 3)],
        [cid, ratingsOf(202, 3)],
        [dee, ratingsOf(203, 3)],
      ]),
    );
    const before = results.get(ann);
    expect(before.body.me.following.participants).to.equal(3);
    expect((await api.call('DELETE', `/v1/users/${cid.id}/follow`, { token: ann.token })).status).to.equal(
      204,
    );
    const after = await api.call('GET', `/v1/sessions/${id}/results`, { token: ann.token });
    expect(after.headers.get('etag')).to.equal(before.headers.get('etag'));
    expect(after.body).to.deep.equal(before.body);
    const cached = await api.call('GET', `/v1/sessions/${id}/results`, {
      token: ann.token,
      headers: { 'if-none-match': before.headers.get('etag') },
    });
    expect(cached.status).to.equal(304);
    await api.call('PUT', `/v1/users/${cid.id}/follow`, { token: ann.token });
  });

  it('cuts a best curve at BEST_CURVE_MAX_MINUTES and has none without exact per-minute sums', () => {
    const long = Array.from({ length: BEST_CURVE_MAX_MINUTES + 5 }, (_, m) => [m, 1, 1, 1, 100] as const);
    const cut = bestCurve(long.map((m) => [...m]));
    expect(cut.curve).to.have.length(BEST_CURVE_MAX_MINUTES);
    expect(cut.curve!.at(-1)).to.equal(BEST_CURVE_MAX_MINUTES);
    expect(cut.complete).to.equal(false);
    expect(bestCurve([[0, 50, 60, 2]])).to.deep.equal({});
    expect(bestCurve([[2, 50, 60, 2, 10_001]])).to.deep.equal({ curve: [0, 0, 100.01], complete: true });
  });
});
