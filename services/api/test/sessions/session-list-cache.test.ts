/* eslint-disable @typescript-eslint/no-explicit-any -- test replies are untyped JSON */
import { expect } from 'chai';
import { SessionListCache } from '../../src/sessions/session-list-cache.js';
import { TestApi } from '../harness.js';
import type { TestUser } from '../harness.js';

const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A load the test finishes by hand, counting its calls. */
function manualLoads() {
  const pending: Array<(page: unknown) => void> = [];
  return {
    calls: () => pending.length,
    load: () => new Promise<unknown>((resolve) => pending.push(resolve)),
    finish: (i: number, page: unknown) => pending[i](page),
  };
}

describe('SessionListCache', () => {
  it('answers concurrent misses of one page with one load, and serves it from memory until it expires', async () => {
    let now = 1_000;
    const cache = new SessionListCache(500, () => now);
    const loads = manualLoads();
    const first = cache.json('k', loads.load);
    const second = cache.json('k', loads.load);
    expect(loads.calls()).to.equal(1);
    loads.finish(0, { items: [1] });
    expect(await first).to.equal('{"items":[1]}');
    expect(await second).to.equal('{"items":[1]}');
    now = 1_499;
    expect(await cache.json('k', loads.load)).to.equal('{"items":[1]}');
    expect(loads.calls()).to.equal(1);
    now = 1_500;
    const third = cache.json('k', loads.load);
    expect(loads.calls()).to.equal(2);
    loads.finish(1, { items: [2] });
    expect(await third).to.equal('{"items":[2]}');
  });

  it('does not keep a page whose load was running when the list changed', async () => {
    const cache = new SessionListCache(60_000);
    const loads = manualLoads();
    const before = cache.json('k', loads.load);
    cache.invalidate();
    const after = cache.json('k', loads.load);
    expect(loads.calls()).to.equal(2, 'a request after the change does not join the older load');
    loads.finish(0, { items: ['old'] });
    expect(await before).to.equal('{"items":["old"]}');
    loads.finish(1, { items: ['new'] });
    expect(await after).to.equal('{"items":["new"]}');
    expect(await cache.json('k', loads.load)).to.equal('{"items":["new"]}');
    expect(loads.calls()).to.equal(2);
  });

  it('forgets a failed load, so the next request tries again', async () => {
    const cache = new SessionListCache(60_000);
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error('down'));
    };
    let error: unknown;
    await cache.json('k', failing).catch((err: unknown) => (error = err));
    expect((error as Error).message).to.equal('down');
    expect(await cache.json('k', () => Promise.resolve({ items: [] }))).to.equal('{"items":[]}');
    expect(calls).to.equal(1);
  });

  it('loads every time when its lifetime is 0', async () => {
    const cache = new SessionListCache(0);
    let calls = 0;
    const load = () => Promise.resolve({ n: ++calls });
    expect(await cache.json('k', load)).to.equal('{"n":1}');
    expect(await cache.json('k', load)).to.equal('{"n":2}');
  });
});

describe('GET /v1/sessions with the list cache (issue 13)', () => {
  let api: TestApi;
  let coach: TestUser;
  let trainee: TestUser;
  let other: TestUser;
  // A lifetime far beyond the test: whatever appears at once came from invalidation, not expiry.
  before(async () => {
    api = await TestApi.start({ SESSION_LIST_CACHE_MS: '60000' });
    [coach, trainee, other] = await Promise.all([
      api.user('trainer'),
      api.user('trainee'),
      api.user('trainee'),
    ]);
  });
  after(() => api.close());

  const upcoming = async (): Promise<any[]> => {
    const res = await api.call('GET', `/v1/sessions?trainerId=${coach.id}&limit=100`, {
      token: trainee.token,
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/json; charset=utf-8');
    return res.body.items;
  };
  const ids = async () => (await upcoming()).map((s) => s.id);
  const post = (path: string, user: TestUser) => api.call('POST', path, { token: user.token });

  it('lists a created, rescheduled, cancelled, started or ended session as it is now, on the same process', async () => {
    const late = await api.session(coach, { startsAt: inHours(30) });
    expect(await ids()).to.deep.equal([late.id]);
    const early = await api.session(coach, { startsAt: inHours(20) });
    expect(await ids()).to.deep.equal([early.id, late.id], 'created');

    const moved = await api.call('PATCH', `/v1/sessions/${late.id}`, {
      token: coach.token,
      body: { startsAt: inHours(10) },
    });
    expect(moved.status).to.equal(200);
    expect(await ids()).to.deep.equal([late.id, early.id], 'rescheduled');

    expect((await post(`/v1/sessions/${early.id}/cancel`, coach)).status).to.equal(200);
    expect(await ids()).to.deep.equal([late.id], 'cancelled');

    expect((await post(`/v1/sessions/${late.id}/start`, coach)).status).to.equal(200);
    expect((await upcoming()).map((s) => [s.id, s.status])).to.deep.equal([[late.id, 'live']], 'started');

    expect((await post(`/v1/sessions/${late.id}/end`, coach)).status).to.equal(200);
    expect(await ids()).to.deep.equal([], 'ended');
  });

  it('counts a registration, a waitlisted trainee and an unregistration at once', async () => {
    const s = await api.session(coach, { startsAt: inHours(40), capacity: 1 });
    const counts = async () => {
      const item = (await upcoming()).find((i) => i.id === s.id);
      return [item.registeredCount, item.waitlistedCount];
    };
    expect(await counts()).to.deep.equal([0, 0]);
    expect((await post(`/v1/sessions/${s.id}/registrations`, trainee)).status).to.equal(201);
    expect(await counts()).to.deep.equal([1, 0]);
    expect((await post(`/v1/sessions/${s.id}/registrations`, other)).status).to.equal(201);
    expect(await counts()).to.deep.equal([1, 1]);
    const gone = await api.call('DELETE', `/v1/sessions/${s.id}/registrations/me`, { token: trainee.token });
    expect(gone.status).to.equal(204);
    expect(await counts()).to.deep.equal([1, 0], 'the waitlisted trainee took the seat');
    const raised = await api.call('PATCH', `/v1/sessions/${s.id}`, {
      token: coach.token,
      body: { capacity: 3 },
    });
    expect(raised.status).to.equal(200);
    expect(await upcoming()).to.have.length(1);
  });

  it('refuses a bad cursor with 400 whether or not the page is cached', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await api.call('GET', '/v1/sessions?cursor=bm9wZQ', { token: trainee.token });
      expect(res.status).to.equal(400);
      expect(res.body.error.code).to.equal('VALIDATION_FAILED');
    }
  });
});

describe('GET /v1/sessions after another replica changed a session (issue 13)', () => {
  let api: TestApi;
  before(async () => {
    api = await TestApi.start({ SESSION_LIST_CACHE_MS: '1000' });
  });
  after(() => api.close());

  it('lists the change within SESSION_LIST_CACHE_MS', async () => {
    const coach = await api.user('trainer');
    const trainee = await api.user('trainee');
    const s = await api.session(coach, { startsAt: inHours(50), title: 'Before' });
    const titles = async () => {
      const res = await api.call('GET', `/v1/sessions?trainerId=${coach.id}`, { token: trainee.token });
      return res.body.items.map((i: any) => i.title);
    };
    expect(await titles()).to.deep.equal(['Before']);
    // What another replica's commit looks like to this one: the row changes, this process hears nothing.
    await api.orm.em
      .getConnection()
      .execute(`update workout_session set title = 'After' where id = ?`, [s.id]);
    expect(await titles()).to.deep.equal(['Before'], 'served from memory within its lifetime');
    await sleep(1_100);
    expect(await titles()).to.deep.equal(['After']);
  });
});
