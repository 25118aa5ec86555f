import { expect } from 'chai';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient } from '@nats-io/jetstream';
import { pino } from 'pino';
import type { Subscription } from '@nats-io/transport-node';
import { RegistrationEvent, SessionEvent } from '@pulse/contracts';
import { OutboxEvent } from '../src/outbox/outbox-event.entity.js';
import { OutboxPublisher } from '../src/outbox/outbox-publisher.js';
import { TestApi } from './harness.js';
import type { TestUser } from './harness.js';

/** Collects every session event published in the test's namespace. */
function collect(api: TestApi): {
  events: SessionEvent[];
  sub: Subscription;
  waitFor(n: number): Promise<void>;
} {
  const events: SessionEvent[] = [];
  const sub = api.nats.subscribe(api.names.allSessionEvents);
  void (async () => {
    for await (const m of sub) events.push(SessionEvent.parse(m.json()));
  })();
  const waitFor = async (n: number) => {
    const deadline = Date.now() + 10_000;
    while (events.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  };
  return { events, sub, waitFor };
}

describe('lifecycle events through the outbox', () => {
  let api: TestApi;
  let coach: TestUser;
  before(async () => {
    api = await TestApi.start();
    coach = await api.user('trainer');
  });
  after(() => api.close());

  it('publishes created, rescheduled, started and ended with full snapshots on the session subject', async () => {
    const seen = collect(api);
    await api.nats.flush();
    const s = await api.session(coach);
    const startsAt = new Date(Date.now() + 7_200_000).toISOString();
    await api.call('PATCH', `/v1/sessions/${s.id}`, { token: coach.token, body: { startsAt } });
    await api.call('PATCH', `/v1/sessions/${s.id}`, {
      token: coach.token,
      body: { title: 'not a reschedule' },
    });
    await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    await api.call('POST', `/v1/sessions/${s.id}/end`, { token: coach.token });
    await seen.waitFor(4);
    seen.sub.unsubscribe();
    const mine = seen.events.filter((e) => e.session.id === s.id);
    expect(mine.map((e) => e.type)).to.deep.equal(['created', 'rescheduled', 'started', 'ended']);
    expect(mine.map((e) => e.session.status)).to.deep.equal(['scheduled', 'scheduled', 'live', 'ended']);
    expect(mine[0].session).to.deep.include({
      id: s.id,
      trainerId: coach.id,
      title: 'Morning HIIT',
      capacity: 10,
    });
    expect(mine[1].session.startsAt).to.equal(startsAt);
    expect(mine[2].session.startedAt).to.be.a('string');
    expect(mine[3].session.endedAt).to.be.a('string');
    expect(new Set(mine.map((e) => e.eventId)).size).to.equal(4);
    const jsm = await jetstreamManager(api.nats);
    const last = await jsm.streams.getMessage(api.names.eventsStream, {
      last_by_subj: api.names.sessionEvent(s.id),
    });
    expect((last!.json() as SessionEvent).type).to.equal('ended');
  });

  it('a transition publishes the session exactly as its answer shows it, stamped at the event time', async () => {
    const seen = collect(api);
    await api.nats.flush();
    const [played, cancelled] = [await api.session(coach), await api.session(coach)];
    const act = async (id: string, action: string) =>
      (await api.call('POST', `/v1/sessions/${id}/${action}`, { token: coach.token })).body;
    const answers = [
      await act(played.id, 'start'),
      await act(played.id, 'end'),
      await act(cancelled.id, 'cancel'),
    ];
    await seen.waitFor(5);
    seen.sub.unsubscribe();
    const stamps = { started: 'startedAt', ended: 'endedAt', cancelled: 'cancelledAt' } as const;
    for (const answer of answers) {
      const event = seen.events.find(
        (e) => e.session.id === answer.id && e.session.status === answer.status && e.type !== 'created',
      );
      expect(event, answer.status).to.not.equal(undefined);
      const {
        description: _d,
        registeredCount: _r,
        waitlistedCount: _w,
        createdAt: _c,
        ...snapshot
      } = answer;
      expect(event!.session).to.deep.equal(snapshot);
      expect(event!.at).to.equal(answer[stamps[event!.type as keyof typeof stamps]]);
    }
  });

  it('publishes cancelled', async () => {
    const seen = collect(api);
    await api.nats.flush();
    const s = await api.session(coach);
    await api.call('POST', `/v1/sessions/${s.id}/cancel`, { token: coach.token });
    await seen.waitFor(2);
    seen.sub.unsubscribe();
    const types = seen.events.filter((e) => e.session.id === s.id).map((e) => [e.type, e.session.status]);
    expect(types).to.deep.equal([
      ['created', 'scheduled'],
      ['cancelled', 'cancelled'],
    ]);
  });

  it('publishes no event for a transition that was refused', async () => {
    const s = await api.session(coach);
    await api.call('POST', `/v1/sessions/${s.id}/end`, { token: coach.token });
    const rows = await api.orm.em.fork().find(OutboxEvent, { sessionId: s.id });
    expect(rows.map((r) => r.type)).to.deep.equal(['created']);
  });
});

describe('the outbox publisher', () => {
  let api: TestApi;
  before(async () => {
    api = await TestApi.start({}, { publisher: false });
  });
  after(() => api.close());

  it('keeps committed events while nothing publishes, then publishes them in order and marks them', async () => {
    const coach = await api.user('trainer');
    const s = await api.session(coach);
    await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    const em = api.orm.em.fork();
    const pending = await em.find(OutboxEvent, { sessionId: s.id }, { orderBy: { createdAt: 'asc' } });
    expect(pending.map((r) => [r.type, r.publishedAt])).to.deep.equal([
      ['created', null],
      ['started', null],
    ]);
    const seen = collect(api);
    await api.nats.flush();
    expect(await api.outbox.publishBatch()).to.equal(2);
    await seen.waitFor(2);
    seen.sub.unsubscribe();
    expect(seen.events.map((e) => e.type)).to.deep.equal(['created', 'started']);
    const after = await api.orm.em.fork().find(OutboxEvent, { sessionId: s.id });
    expect(after.every((r) => r.publishedAt instanceof Date)).to.equal(true);
  });

  it('lets JetStream drop a republished event as a duplicate of its eventId', async () => {
    const coach = await api.user('trainer');
    const s = await api.session(coach);
    await api.outbox.publishBatch();
    const jsm = await jetstreamManager(api.nats);
    const before = (await jsm.streams.info(api.names.eventsStream)).state.messages;
    // As if the process died after the PubAck but before marking the row: it is published again.
    await api.orm.em.fork().nativeUpdate(OutboxEvent, { sessionId: s.id }, { publishedAt: null });
    expect(await api.outbox.publishBatch()).to.equal(1);
    const again = await jetstream(api.nats).publish(api.names.sessionEvent(s.id), '{}', {
      msgID: (await api.orm.em.fork().findOneOrFail(OutboxEvent, { sessionId: s.id })).id,
    });
    expect(again.duplicate).to.equal(true);
    expect((await jsm.streams.info(api.names.eventsStream)).state.messages).to.equal(before);
  });

  it('publishes each subject’s rows in order; a failed row holds back its own subject only', async () => {
    while ((await api.outbox.publishBatch()) > 0);
    const coach = await api.user('trainer');
    const [a, b] = [await api.session(coach), await api.session(coach)];
    for (const s of [a, b]) await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    // A fault in front of the real JetStream: every publish on session a's subject fails.
    const js = jetstream(api.nats);
    const failing = api.names.sessionEvent(a.id);
    const flaky = {
      publish: (subject: string, data: string, options: object) =>
        subject === failing ? Promise.reject(new Error('injected')) : js.publish(subject, data, options),
    } as unknown as JetStreamClient;
    const publisher = new OutboxPublisher(api.orm, flaky, api.names, pino({ enabled: false }), 60_000);
    const rowsOf = (id: string) =>
      api.orm.em.fork().find(OutboxEvent, { sessionId: id }, { orderBy: { createdAt: 'asc', id: 'asc' } });
    const typesOf = (events: SessionEvent[]) => events.map((e) => [e.session.id, e.type]);
    const seen = collect(api);
    await api.nats.flush();

    expect(await publisher.publishBatch()).to.equal(2);
    await seen.waitFor(2);
    expect(typesOf(seen.events)).to.deep.equal([
      [b.id, 'created'],
      [b.id, 'started'],
    ]);
    expect((await rowsOf(a.id)).map((r) => [r.type, r.publishedAt, r.attempts])).to.deep.equal([
      ['created', null, 1],
      ['started', null, 0],
    ]);

    expect(await api.outbox.publishBatch()).to.equal(2);
    await seen.waitFor(4);
    seen.sub.unsubscribe();
    expect(typesOf(seen.events.slice(2))).to.deep.equal([
      [a.id, 'created'],
      [a.id, 'started'],
    ]);
    expect((await rowsOf(a.id)).every((r) => r.publishedAt instanceof Date)).to.equal(true);
  });

  it('deletes published rows older than the retention, never unpublished or recent ones', async () => {
    const coach = await api.user('trainer');
    const s = await api.session(coach);
    await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    await api.call('POST', `/v1/sessions/${s.id}/end`, { token: coach.token });
    const em = api.orm.em.fork();
    const rows = await em.find(
      OutboxEvent,
      { sessionId: s.id },
      { orderBy: { createdAt: 'asc', id: 'asc' } },
    );
    expect(rows.map((r) => r.type)).to.deep.equal(['created', 'started', 'ended']);
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    // created: published 25 h ago (old); started: published 23 h ago (recent); ended: never published, 30 h old.
    await em.nativeUpdate(OutboxEvent, { id: rows[0].id }, { publishedAt: hoursAgo(25) });
    await em.nativeUpdate(OutboxEvent, { id: rows[1].id }, { publishedAt: hoursAgo(23) });
    await em.nativeUpdate(OutboxEvent, { id: rows[2].id }, { publishedAt: null, createdAt: hoursAgo(30) });

    expect(await api.outbox.purgePublished()).to.equal(1);
    const left = await api.orm.em
      .fork()
      .find(OutboxEvent, { sessionId: s.id }, { orderBy: { createdAt: 'asc' } });
    expect(left.map((r) => r.type).sort()).to.deep.equal(['ended', 'started']);
    expect(await api.outbox.purgePublished()).to.equal(0);
  });
});

describe('registration events through the outbox (issue 11)', () => {
  let api: TestApi;
  let coach: TestUser;
  before(async () => {
    api = await TestApi.start();
    coach = await api.user('trainer');
  });
  after(() => api.close());

  /** The last message stored on the trainee's subject: what a gateway reads at connect. */
  async function lastOf(sessionId: string, userId: string): Promise<RegistrationEvent | null> {
    const jsm = await jetstreamManager(api.nats);
    const m = await jsm.streams
      .getMessage(api.names.eventsStream, { last_by_subj: api.names.registrationEvent(sessionId, userId) })
      .catch(() => null);
    return m ? RegistrationEvent.parse(m.json()) : null;
  }
  async function until(check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
  const statusOf = async (sessionId: string, userId: string) => (await lastOf(sessionId, userId))?.status;

  it('publishes registered and unregistered on the trainee’s subject; the last message is the truth', async () => {
    const received: RegistrationEvent[] = [];
    const sub = api.nats.subscribe(api.names.allRegistrationEvents);
    void (async () => {
      for await (const m of sub) received.push(RegistrationEvent.parse(m.json()));
    })();
    await api.nats.flush();
    const s = await api.session(coach, { capacity: 1 });
    const [ann, bob] = await Promise.all([api.user('trainee'), api.user('trainee')]);
    const path = `/v1/sessions/${s.id}/registrations`;

    expect((await api.call('POST', path, { token: ann.token })).status).to.equal(201);
    await until(async () => (await statusOf(s.id, ann.id)) === 'registered');
    const first = await lastOf(s.id, ann.id);
    expect(first).to.deep.include({
      kind: 'registration',
      sessionId: s.id,
      userId: ann.id,
      status: 'registered',
    });

    // Bob lands on the waitlist: no seat, no event.
    expect((await api.call('POST', path, { token: bob.token })).body.status).to.equal('waitlisted');
    expect((await api.call('DELETE', `${path}/me`, { token: ann.token })).status).to.equal(204);
    await until(async () => (await statusOf(s.id, ann.id)) === 'unregistered');
    expect(await statusOf(s.id, ann.id)).to.equal('unregistered');
    // Ann's seat went to Bob.
    await until(async () => (await statusOf(s.id, bob.id)) === 'registered');
    expect(await statusOf(s.id, bob.id)).to.equal('registered');

    // Ann comes back onto the waitlist: still no seat, so her last word stays `unregistered`...
    expect((await api.call('POST', path, { token: ann.token })).body.status).to.equal('waitlisted');
    await api.outbox.publishBatch();
    expect(await statusOf(s.id, ann.id)).to.equal('unregistered');
    // ...until the trainer adds a seat and she is promoted.
    const raised = await api.call('PATCH', `/v1/sessions/${s.id}`, {
      token: coach.token,
      body: { capacity: 2 },
    });
    expect(raised.status).to.equal(200);
    await until(async () => (await statusOf(s.id, ann.id)) === 'registered');
    expect(await statusOf(s.id, ann.id)).to.equal('registered');

    await until(async () => received.length >= 4);
    sub.unsubscribe();
    expect(received.map((e) => `${e.userId === ann.id ? 'ann' : 'bob'} ${e.status}`)).to.deep.equal([
      'ann registered',
      'ann unregistered',
      'bob registered',
      'ann registered',
    ]);
    // A row is marked published once its PubAck is in and the publisher's transaction commits, which can
    // be a moment after the message reached the subscriber above.
    const published = async () =>
      (await api.orm.em.fork().find(OutboxEvent, { sessionId: s.id, type: 'registration' })).filter(
        (r) => r.publishedAt instanceof Date,
      ).length;
    await until(async () => (await published()) === 4);
    expect(await published()).to.equal(4);
  });

  it('never puts a registration event where lifecycle consumers read', async () => {
    const lifecycle: unknown[] = [];
    const sub = api.nats.subscribe(api.names.allSessionEvents);
    void (async () => {
      for await (const m of sub) lifecycle.push(m.json());
    })();
    await api.nats.flush();
    const s = await api.session(coach);
    const trainee = await api.user('trainee');
    await api.call('POST', `/v1/sessions/${s.id}/registrations`, { token: trainee.token });
    await api.call('DELETE', `/v1/sessions/${s.id}/registrations/me`, { token: trainee.token });
    await until(async () => (await statusOf(s.id, trainee.id)) === 'unregistered');
    await api.nats.flush();
    sub.unsubscribe();
    expect(lifecycle.map((e) => SessionEvent.parse(e).type)).to.deep.equal(['created']);
  });
});
