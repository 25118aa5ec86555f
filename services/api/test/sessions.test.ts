/* eslint-disable @typescript-eslint/no-explicit-any */
import { expect } from 'chai';
import { TestApi } from './harness.js';
import type { TestUser } from './harness.js';

const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();

describe('sessions', () => {
  let api: TestApi;
  let coach: TestUser;
  let otherCoach: TestUser;
  let trainee: TestUser;
  before(async () => {
    api = await TestApi.start();
    [coach, otherCoach, trainee] = await Promise.all([
      api.user('trainer'),
      api.user('trainer'),
      api.user('trainee'),
    ]);
  });
  after(() => api.close());

  it('creates a scheduled session owned by the trainer with zero registrations', async () => {
    const s = await api.session(coach, { title: 'Spin', description: 'Hills', type: 'spin', capacity: 5 });
    expect(s).to.include({
      trainerId: coach.id,
      title: 'Spin',
      description: 'Hills',
      type: 'spin',
      status: 'scheduled',
      capacity: 5,
      registeredCount: 0,
      startedAt: null,
    });
    const got = await api.call('GET', `/v1/sessions/${s.id}`, { token: trainee.token });
    expect(got.status).to.equal(200);
    expect(got.body).to.include({ id: s.id, registeredCount: 0, registration: null });
  });

  it('refuses a session starting in the past with 400', async () => {
    const res = await api.call('POST', '/v1/sessions', {
      token: coach.token,
      body: { title: 'Late', type: 'hiit', startsAt: inHours(-1), durationMinutes: 30, capacity: 3 },
    });
    expect(res.status).to.equal(400);
    expect(res.body.error.code).to.equal('VALIDATION_FAILED');
  });

  it('answers 404 NOT_FOUND for an unknown session', async () => {
    const res = await api.call('GET', '/v1/sessions/00000000-0000-4000-8000-000000000000', {
      token: trainee.token,
    });
    expect(res.status).to.equal(404);
    expect(res.body.error.code).to.equal('NOT_FOUND');
  });

  it('lists upcoming sessions soonest first, filtered, with registeredCount and cursor pages', async () => {
    const trainer = await api.user('trainer');
    const made = [];
    for (const h of [5, 3, 4, 1, 2])
      made.push(await api.session(trainer, { startsAt: inHours(h + 100), type: 'yoga' }));
    const cancelled = await api.session(trainer, { startsAt: inHours(100.5), type: 'yoga' });
    await api.call('POST', `/v1/sessions/${cancelled.id}/cancel`, { token: trainer.token });
    await api.call('POST', `/v1/sessions/${made[3].id}/registrations`, { token: trainee.token });
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `?trainerId=${trainer.id}&type=yoga&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api.call('GET', `/v1/sessions${q}`, { token: trainee.token });
      expect(page.status).to.equal(200);
      expect(page.body.items.length).to.be.at.most(2);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    const expected = [...made].sort((a, b) => a.startsAt.localeCompare(b.startsAt)).map((s) => s.id);
    expect(seen.map((s) => s.id)).to.deep.equal(expected);
    expect(seen[0].registeredCount).to.equal(1);
    expect(seen.slice(1).map((s) => s.registeredCount)).to.deep.equal([0, 0, 0, 0]);
    const onlyCancelled = await api.call('GET', `/v1/sessions?trainerId=${trainer.id}&status=cancelled`, {
      token: trainee.token,
    });
    expect(onlyCancelled.body.items.map((s: any) => s.id)).to.deep.equal([cancelled.id]);
    const window = await api.call(
      'GET',
      `/v1/sessions?trainerId=${trainer.id}&from=${encodeURIComponent(inHours(102.5))}&to=${encodeURIComponent(inHours(104.5))}`,
      { token: trainee.token },
    );
    expect(window.body.items).to.have.length(2);
  });

  it('lets the owning trainer edit and reschedule into the future only', async () => {
    const s = await api.session(coach);
    const startsAt = inHours(30);
    const edited = await api.call('PATCH', `/v1/sessions/${s.id}`, {
      token: coach.token,
      body: { title: 'Evening HIIT', startsAt, capacity: 12 },
    });
    expect(edited.status).to.equal(200);
    expect(edited.body).to.include({ title: 'Evening HIIT', startsAt, capacity: 12 });
    const past = await api.call('PATCH', `/v1/sessions/${s.id}`, {
      token: coach.token,
      body: { startsAt: inHours(-2) },
    });
    expect(past.status).to.equal(400);
    const foreign = await api.call('PATCH', `/v1/sessions/${s.id}`, {
      token: otherCoach.token,
      body: { title: 'x' },
    });
    expect(foreign.status).to.equal(403);
  });

  it('raising the capacity promotes waitlisted trainees in order', async () => {
    const s = await api.session(coach, { capacity: 1 });
    const trainees = [];
    for (let i = 0; i < 3; i++) {
      const t = await api.user('trainee');
      trainees.push(t);
      await api.call('POST', `/v1/sessions/${s.id}/registrations`, { token: t.token });
    }
    await api.call('PATCH', `/v1/sessions/${s.id}`, { token: coach.token, body: { capacity: 2 } });
    const statuses = [];
    for (const t of trainees)
      statuses.push(
        (await api.call('GET', `/v1/sessions/${s.id}`, { token: t.token })).body.registration.status,
      );
    expect(statuses).to.deep.equal(['registered', 'registered', 'waitlisted']);
    const shrink = await api.call('PATCH', `/v1/sessions/${s.id}`, {
      token: coach.token,
      body: { capacity: 1 },
    });
    expect(shrink.status).to.equal(400);
  });

  it('starts and ends a session, stamping startedAt and endedAt', async () => {
    const s = await api.session(coach);
    const started = await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    expect(started.status).to.equal(200);
    expect(started.body.status).to.equal('live');
    expect(started.body.startedAt).to.be.a('string');
    const ended = await api.call('POST', `/v1/sessions/${s.id}/end`, { token: coach.token });
    expect(ended.body.status).to.equal('ended');
    expect(ended.body.endedAt).to.be.a('string');
  });

  it('of 20 concurrent starts of one session, one starts it and 19 are refused; one started event', async () => {
    const s = await api.session(coach);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).to.have.length(1);
    for (const refused of answers.filter((a) => a.status !== 200)) {
      expect(refused.status).to.equal(409);
      expect(refused.body.error).to.include({ code: 'INVALID_STATE' });
      expect(refused.body.error.details.state).to.equal('live');
    }
    const events: { type: string }[] = await api.orm.em
      .getConnection()
      .execute('select type from outbox_event where session_id = ? order by created_at', [s.id]);
    expect(events.map((e) => e.type)).to.deep.equal(['created', 'started']);
  });

  it('a transition of another trainer’s session is 403 and of no session 404, and changes nothing', async () => {
    const s = await api.session(coach);
    const foreign = await api.call('POST', `/v1/sessions/${s.id}/start`, { token: otherCoach.token });
    expect(foreign.status).to.equal(403);
    expect(foreign.body.error.code).to.equal('FORBIDDEN');
    const missing = await api.call('POST', `/v1/sessions/${crypto.randomUUID()}/end`, { token: coach.token });
    expect(missing.status).to.equal(404);
    const now = await api.call('GET', `/v1/sessions/${s.id}`, { token: coach.token });
    expect(now.body).to.include({ status: 'scheduled', startedAt: null });
  });

  describe('the state machine', () => {
    // [state reached through these actions, action, expected status, resulting state]
    const table: [string[], string, number, string][] = [
      [[], 'start', 200, 'live'],
      [[], 'cancel', 200, 'cancelled'],
      [[], 'end', 409, 'scheduled'],
      [[], 'edit', 200, 'scheduled'],
      [['start'], 'start', 409, 'live'],
      [['start'], 'cancel', 409, 'live'],
      [['start'], 'end', 200, 'ended'],
      [['start'], 'edit', 409, 'live'],
      [['start', 'end'], 'start', 409, 'ended'],
      [['start', 'end'], 'cancel', 409, 'ended'],
      [['start', 'end'], 'end', 409, 'ended'],
      [['start', 'end'], 'edit', 409, 'ended'],
      [['cancel'], 'start', 409, 'cancelled'],
      [['cancel'], 'cancel', 409, 'cancelled'],
      [['cancel'], 'end', 409, 'cancelled'],
      [['cancel'], 'edit', 409, 'cancelled'],
    ];
    const act = (id: string, action: string) =>
      action === 'edit'
        ? api.call('PATCH', `/v1/sessions/${id}`, { token: coach.token, body: { title: 'renamed' } })
        : api.call('POST', `/v1/sessions/${id}/${action}`, { token: coach.token });

    for (const [path, action, status, after] of table) {
      const from = { start: 'live', end: 'ended', cancel: 'cancelled' }[path.at(-1) ?? ''] ?? 'scheduled';
      it(`${action} on a ${from} session answers ${status}`, async () => {
        const s = await api.session(coach);
        for (const step of path) expect((await act(s.id, step)).status).to.equal(200);
        const res = await act(s.id, action);
        expect(res.status).to.equal(status);
        if (status === 409) {
          expect(res.body.error.code).to.equal('INVALID_STATE');
          expect(res.body.error.details.state).to.equal(after);
          expect(res.body.error.message).to.contain(after);
        }
        const now = await api.call('GET', `/v1/sessions/${s.id}`, { token: coach.token });
        expect(now.body.status).to.equal(after);
      });
    }
  });
});
