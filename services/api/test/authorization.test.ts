/* eslint-disable @typescript-eslint/no-explicit-any */
import { expect } from 'chai';
import { ClickHouseTable } from '@pulse/contracts';
import { TestApi } from './harness.js';
import type { TestUser } from './harness.js';

type Caller = 'anonymous' | 'trainee' | 'otherTrainee' | 'owner' | 'otherTrainer';
const CALLERS: Caller[] = ['anonymous', 'trainee', 'otherTrainee', 'owner', 'otherTrainer'];
/** `frozen`: ended, and the engine's final results copied into PostgreSQL (issue 13). */
type State = 'scheduled' | 'live' | 'ended' | 'frozen';

interface Row {
  method: string;
  path: string;
  /** The session's state before the call; `trainee` is registered and joined, `otherTrainee` is not. */
  state: State;
  body?: (sessionId: string) => unknown;
  /** Run after the fixture, before the call (e.g. the trainee unregisters). */
  prepare?: (
    sessionId: string,
    users: Record<Exclude<Caller, 'anonymous'>, TestUser>,
    api: TestApi,
  ) => Promise<void>;
  /** Told apart from another row of the same route in the test's title. */
  label?: string;
  /** What `:id` stands for when it is not the session (e.g. a user to follow). */
  target?: (sessionId: string, users: Record<Exclude<Caller, 'anonymous'>, TestUser>) => string;
  expected: [number, number, number, number, number];
}

const future = () => new Date(Date.now() + 86_400_000).toISOString();
const newSession = () => ({ title: 'T', type: 'hiit', startsAt: future(), durationMinutes: 30, capacity: 5 });

// Expected statuses, in the order anonymous, trainee, other trainee, owning trainer, other trainer.
const TABLE: Row[] = [
  {
    method: 'POST',
    path: '/v1/auth/logout',
    state: 'scheduled',
    body: () => ({ refreshToken: 'unknown' }),
    expected: [401, 204, 204, 204, 204],
  },
  { method: 'GET', path: '/v1/me', state: 'scheduled', expected: [401, 200, 200, 200, 200] },
  {
    method: 'PATCH',
    path: '/v1/me',
    state: 'scheduled',
    body: () => ({ showOnBoards: false }),
    expected: [401, 200, 200, 200, 200],
  },
  {
    method: 'PUT',
    path: '/v1/users/:id/follow',
    state: 'scheduled',
    target: (_, users) => users.otherTrainee.id,
    // the other trainee would follow themselves: 400
    expected: [401, 204, 400, 403, 403],
  },
  {
    method: 'DELETE',
    path: '/v1/users/:id/follow',
    state: 'scheduled',
    target: (_, users) => users.otherTrainee.id,
    expected: [401, 204, 400, 403, 403],
  },
  { method: 'GET', path: '/v1/me/following', state: 'scheduled', expected: [401, 200, 200, 200, 200] },
  { method: 'GET', path: '/v1/me/followers', state: 'scheduled', expected: [401, 200, 200, 200, 200] },
  {
    method: 'POST',
    path: '/v1/sessions',
    state: 'scheduled',
    body: newSession,
    expected: [401, 403, 403, 201, 201],
  },
  { method: 'GET', path: '/v1/sessions', state: 'scheduled', expected: [401, 200, 200, 200, 200] },
  { method: 'GET', path: '/v1/sessions/:id', state: 'scheduled', expected: [401, 200, 200, 200, 200] },
  {
    method: 'PATCH',
    path: '/v1/sessions/:id',
    state: 'scheduled',
    body: () => ({ title: 'New' }),
    expected: [401, 403, 403, 200, 403],
  },
  {
    method: 'POST',
    path: '/v1/sessions/:id/cancel',
    state: 'scheduled',
    expected: [401, 403, 403, 200, 403],
  },
  { method: 'POST', path: '/v1/sessions/:id/start', state: 'scheduled', expected: [401, 403, 403, 200, 403] },
  { method: 'POST', path: '/v1/sessions/:id/end', state: 'live', expected: [401, 403, 403, 200, 403] },
  {
    method: 'POST',
    path: '/v1/sessions/:id/registrations',
    state: 'scheduled',
    expected: [401, 200, 201, 403, 403],
  },
  {
    method: 'DELETE',
    path: '/v1/sessions/:id/registrations/me',
    state: 'scheduled',
    expected: [401, 204, 404, 403, 403],
  },
  { method: 'POST', path: '/v1/sessions/:id/join', state: 'scheduled', expected: [401, 200, 403, 403, 403] },
  { method: 'GET', path: '/v1/sessions/:id/results', state: 'live', expected: [401, 200, 200, 200, 200] },
  // Ended but not frozen yet: 202 RESULTS_PENDING to everyone signed in.
  { method: 'GET', path: '/v1/sessions/:id/results', state: 'ended', expected: [401, 202, 202, 202, 202] },
  { method: 'GET', path: '/v1/sessions/:id/results', state: 'frozen', expected: [401, 200, 200, 200, 200] },
  {
    method: 'POST',
    path: '/v1/sessions/:id/feedback',
    state: 'ended',
    body: () => ({ rating: 5 }),
    expected: [401, 201, 403, 403, 403],
  },
  { method: 'GET', path: '/v1/sessions/:id/feedback', state: 'ended', expected: [401, 403, 403, 200, 403] },
  { method: 'GET', path: '/v1/me/history', state: 'ended', expected: [401, 200, 200, 403, 403] },
  // Issue 15: the class's energy is the owning trainer's, live or ended; before the start there is none.
  {
    method: 'GET',
    path: '/v1/sessions/:id/class-energy',
    state: 'live',
    expected: [401, 403, 403, 200, 403],
  },
  {
    method: 'GET',
    path: '/v1/sessions/:id/class-energy',
    state: 'scheduled',
    expected: [401, 403, 403, 409, 403],
  },
  // Issue 11: the feedback list pages; out-of-range instants are refused only after authentication.
  {
    method: 'GET',
    path: '/v1/sessions/:id/feedback?limit=1',
    state: 'ended',
    expected: [401, 403, 403, 200, 403],
  },
  {
    method: 'GET',
    path: '/v1/sessions?from=0000-01-01T00:00:00Z',
    state: 'scheduled',
    expected: [401, 400, 400, 400, 400],
  },
  {
    method: 'PATCH',
    path: '/v1/sessions/:id',
    state: 'scheduled',
    label: 'to year 0000',
    body: () => ({ startsAt: '0000-01-01T00:00:00Z' }),
    // Bodies are validated before roles, as on every route: a bad body is 400 whoever sends it.
    expected: [401, 400, 400, 400, 400],
  },
  {
    method: 'POST',
    path: '/v1/sessions/:id/join',
    state: 'scheduled',
    label: 'after the trainee unregistered',
    prepare: async (id, users, api) => {
      const res = await api.call('DELETE', `/v1/sessions/${id}/registrations/me`, {
        token: users.trainee.token,
      });
      expect(res.status).to.equal(204);
    },
    expected: [401, 403, 403, 403, 403],
  },
  {
    method: 'POST',
    path: '/v1/auth/register',
    state: 'scheduled',
    body: () => ({
      email: `reg-${crypto.randomUUID()}@example.test`,
      password: 'correct horse battery',
      name: 'New',
      role: 'trainee',
    }),
    expected: [201, 201, 201, 201, 201],
  },
  {
    method: 'POST',
    path: '/v1/auth/refresh',
    state: 'scheduled',
    body: () => ({ refreshToken: 'unknown' }),
    expected: [401, 401, 401, 401, 401],
  },
  {
    method: 'POST',
    path: '/v1/auth/login',
    state: 'scheduled',
    body: () => ({ email: 'no@example.test', password: 'whatever1' }),
    expected: [401, 401, 401, 401, 401],
  },
];

describe('authorization: every route × every kind of caller', () => {
  let api: TestApi;
  const users = {} as Record<Exclude<Caller, 'anonymous'>, TestUser>;
  before(async () => {
    api = await TestApi.start();
    [users.trainee, users.otherTrainee, users.owner, users.otherTrainer] = await Promise.all([
      api.user('trainee'),
      api.user('trainee'),
      api.user('trainer'),
      api.user('trainer'),
    ]);
  });
  after(() => api.close());

  /** A fresh session per cell, in `state`, with `trainee` registered and joined. */
  async function fixture(state: State): Promise<string> {
    const s = await api.session(users.owner);
    await api.call('POST', `/v1/sessions/${s.id}/registrations`, { token: users.trainee.token });
    await api.call('POST', `/v1/sessions/${s.id}/join`, { token: users.trainee.token });
    if (state !== 'scheduled')
      await api.call('POST', `/v1/sessions/${s.id}/start`, { token: users.owner.token });
    if (state === 'ended' || state === 'frozen')
      await api.call('POST', `/v1/sessions/${s.id}/end`, { token: users.owner.token });
    if (state === 'frozen') {
      // What the engine writes for a session nobody connected to: its final session row.
      await api.clickhouse.insert({
        table: `${api.config.CLICKHOUSE_DB}.${ClickHouseTable.SESSION_RESULTS}`,
        values: [{ session_id: s.id, participants: 0, final: 1, updated_at: 1_795_600_000, version: 1 }],
        format: 'JSONEachRow',
      });
      expect(await api.freezer.freeze(s.id)).to.equal('frozen');
    }
    return s.id;
  }

  it('covers every route of the API', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body;
    const documented = Object.entries(doc.paths).flatMap(([p, ops]: [string, any]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const covered = TABLE.map((r) => `${r.method} ${r.path}`);
    expect(documented.filter((r) => !covered.includes(r))).to.deep.equal([]);
  });

  for (const row of TABLE) {
    CALLERS.forEach((who, i) => {
      const title = `${row.method} ${row.path}${row.label ? ` (${row.label})` : ''}`;
      it(`${title} as ${who} answers ${row.expected[i]}`, async () => {
        const id = await fixture(row.state);
        await row.prepare?.(id, users, api);
        const res = await api.call(row.method, row.path.replace(':id', row.target?.(id, users) ?? id), {
          token: who === 'anonymous' ? undefined : users[who].token,
          body: row.body?.(id),
        });
        expect(res.status, JSON.stringify(res.body)).to.equal(row.expected[i]);
        if (res.status >= 400) expect(res.body.error.code).to.be.a('string');
      });
    });
  }
});
