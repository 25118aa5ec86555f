/* eslint-disable @typescript-eslint/no-explicit-any */
import { expect } from 'chai';
import { ClickHouseTable } from '@pulse/contracts';
import type { MinuteRow, SessionResultRow, StandingRow } from '@pulse/contracts';
import { TestApi } from './harness.js';
import type { TestUser } from './harness.js';

/** The live engine is not running here: write its documented ClickHouse rows directly. */
async function insert(api: TestApi, table: string, values: object[]): Promise<void> {
  await api.clickhouse.insert({
    table: `${api.config.CLICKHOUSE_DB}.${table}`,
    values,
    format: 'JSONEachRow',
  });
}

function standing(sessionId: string, u: TestUser, over: Partial<StandingRow>): StandingRow {
  return {
    session_id: sessionId,
    user_id: u.id,
    name: u.name,
    rank: 1,
    participants: 3,
    score: 0,
    calories: 0,
    avg_energy: 0,
    samples: 0,
    final: 0,
    version: 1,
    ...over,
  };
}

describe('results and history from ClickHouse', () => {
  let api: TestApi;
  let coach: TestUser;
  let ann: TestUser;
  let bob: TestUser;
  let cid: TestUser;
  before(async () => {
    api = await TestApi.start();
    coach = await api.user('trainer');
    [ann, bob, cid] = await Promise.all([
      api.user('trainee', 'Ann'),
      api.user('trainee', 'Bob'),
      api.user('trainee', 'Cid'),
    ]);
  });
  after(() => api.close());

  async function sessionWith(trainees: TestUser[], end: boolean) {
    const s = await api.session(coach);
    for (const t of trainees) {
      await api.call('POST', `/v1/sessions/${s.id}/registrations`, { token: t.token });
      await api.call('POST', `/v1/sessions/${s.id}/join`, { token: t.token });
    }
    await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    if (end) await api.call('POST', `/v1/sessions/${s.id}/end`, { token: coach.token });
    return s;
  }

  it('answers 409 INVALID_STATE for scheduled and cancelled sessions', async () => {
    const s = await api.session(coach);
    const res = await api.call('GET', `/v1/sessions/${s.id}/results`, { token: ann.token });
    expect(res.status).to.equal(409);
    expect(res.body.error.details.state).to.equal('scheduled');
    await api.call('POST', `/v1/sessions/${s.id}/cancel`, { token: coach.token });
    expect((await api.call('GET', `/v1/sessions/${s.id}/results`, { token: ann.token })).status).to.equal(
      409,
    );
  });

  it('gives an empty leaderboard and no `me` for a live session without rows', async () => {
    const s = await sessionWith([ann], false);
    const res = await api.call('GET', `/v1/sessions/${s.id}/results`, { token: ann.token });
    expect(res.status).to.equal(200);
    expect(res.body.final).to.equal(false);
    expect(res.body.session.status).to.equal('live');
    expect(res.body.leaderboard).to.deep.equal({ items: [], nextCursor: null });
    expect(res.body).to.not.have.property('me');
  });

  it('reads the newest standings by rank with cursor pages, and the caller’s own minutes', async () => {
    const s = await sessionWith([ann, bob, cid], true);
    await insert(api, ClickHouseTable.STANDINGS, [
      standing(s.id, bob, { rank: 2, score: 500, calories: 40, version: 1 }),
      standing(s.id, ann, { rank: 3, score: 400, calories: 35.5, avg_energy: 50, version: 1 }),
    ]);
    // A later flush (higher version) replaces the earlier rows: FINAL must read these.
    await insert(api, ClickHouseTable.STANDINGS, [
      standing(s.id, cid, {
        rank: 1,
        score: 900,
        calories: 70.25,
        avg_energy: 75,
        samples: 12,
        final: 1,
        version: 2,
      }),
      standing(s.id, bob, {
        rank: 2,
        score: 800,
        calories: 61,
        avg_energy: 66.5,
        samples: 12,
        final: 1,
        version: 2,
      }),
      standing(s.id, ann, {
        rank: 3,
        score: 700,
        calories: 55.5,
        avg_energy: 58.25,
        samples: 12,
        final: 1,
        version: 2,
      }),
    ]);
    const minutes: MinuteRow[] = [
      {
        session_id: s.id,
        user_id: ann.id,
        minute: 1,
        avg_energy: 60,
        max_energy: 90,
        samples: 6,
        version: 2,
      },
      {
        session_id: s.id,
        user_id: ann.id,
        minute: 0,
        avg_energy: 56.5,
        max_energy: 80,
        samples: 6,
        version: 2,
      },
      {
        session_id: s.id,
        user_id: bob.id,
        minute: 0,
        avg_energy: 99,
        max_energy: 99,
        samples: 6,
        version: 2,
      },
    ];
    await insert(api, ClickHouseTable.MINUTES, minutes);
    const summary: SessionResultRow = {
      session_id: s.id,
      participants: 3,
      final: 1,
      updated_at: 1_795_600_000,
      version: 2,
    };
    await insert(api, ClickHouseTable.SESSION_RESULTS, [summary]);

    const first = await api.call('GET', `/v1/sessions/${s.id}/results?limit=2`, { token: ann.token });
    expect(first.status).to.equal(200);
    expect(first.body.final).to.equal(true);
    expect(first.body.session).to.include({ id: s.id, status: 'ended' });
    expect(first.body.leaderboard).to.deep.equal({
      items: [
        { rank: 1, userId: cid.id, name: 'Cid', score: 900, calories: 70.25 },
        { rank: 2, userId: bob.id, name: 'Bob', score: 800, calories: 61 },
      ],
      nextCursor: '2',
    });
    expect(first.body.me).to.deep.equal({
      rank: 3,
      score: 700,
      calories: 55.5,
      avgEnergy: 58.25,
      minutes: [
        { minute: 0, avgEnergy: 56.5, maxEnergy: 80, samples: 6 },
        { minute: 1, avgEnergy: 60, maxEnergy: 90, samples: 6 },
      ],
    });
    const second = await api.call('GET', `/v1/sessions/${s.id}/results?limit=2&cursor=2`, {
      token: coach.token,
    });
    expect(second.body.leaderboard).to.deep.equal({
      items: [{ rank: 3, userId: ann.id, name: 'Ann', score: 700, calories: 55.5 }],
      nextCursor: null,
    });
    expect(second.body).to.not.have.property('me');
  });

  it('lists the trainee’s joined, ended sessions newest first with their numbers, null when none yet', async () => {
    const fresh = await api.user('trainee', 'Dee');
    const older = await sessionWith([fresh], true);
    const newer = await sessionWith([fresh], true);
    const newest = await sessionWith([fresh], true);
    await sessionWith([fresh], false); // live: not history yet
    const notJoined = await api.session(coach);
    await api.call('POST', `/v1/sessions/${notJoined.id}/registrations`, { token: fresh.token });
    await api.call('POST', `/v1/sessions/${notJoined.id}/start`, { token: coach.token });
    await api.call('POST', `/v1/sessions/${notJoined.id}/end`, { token: coach.token });
    await insert(api, ClickHouseTable.STANDINGS, [
      standing(older.id, fresh, {
        rank: 4,
        participants: 9,
        score: 321.5,
        calories: 20,
        avg_energy: 44,
        version: 3,
      }),
      standing(newest.id, fresh, {
        rank: 1,
        participants: 2,
        score: 1000,
        calories: 80.5,
        avg_energy: 88,
        version: 3,
      }),
    ]);
    const page1 = await api.call('GET', '/v1/me/history?limit=2', { token: fresh.token });
    expect(page1.status).to.equal(200);
    expect(page1.body.items.map((i: any) => i.session.id)).to.deep.equal([newest.id, newer.id]);
    expect(page1.body.items[0]).to.deep.include({
      rank: 1,
      participants: 2,
      score: 1000,
      calories: 80.5,
      avgEnergy: 88,
    });
    expect(page1.body.items[1]).to.deep.include({
      rank: null,
      participants: null,
      score: null,
      calories: null,
      avgEnergy: null,
    });
    expect(page1.body.nextCursor).to.be.a('string');
    const page2 = await api.call('GET', `/v1/me/history?limit=2&cursor=${page1.body.nextCursor}`, {
      token: fresh.token,
    });
    expect(page2.body.items.map((i: any) => i.session.id)).to.deep.equal([older.id]);
    expect(page2.body.items[0]).to.deep.include({
      rank: 4,
      participants: 9,
      score: 321.5,
      calories: 20,
      avgEnergy: 44,
    });
    expect(page2.body.nextCursor).to.equal(null);
  });

  it('refuses history to trainers with 403', async () => {
    const res = await api.call('GET', '/v1/me/history', { token: coach.token });
    expect(res.status).to.equal(403);
  });
});
