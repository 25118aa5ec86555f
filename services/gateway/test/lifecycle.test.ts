import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { CloseCode, ParticipantMessage, resultsPath } from '@pulse/contracts';
import {
  NatsWorld,
  TestClient,
  eventually,
  sessionSnapshot,
  signTicket,
  startGateway,
  type RunningGateway,
} from './harness.js';

describe('Session lifecycle at the gateway', () => {
  let world: NatsWorld;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  const clients: TestClient[] = [];
  const open = (gw: RunningGateway, ticket: string) => {
    const client = TestClient.open(gw, ticket);
    clients.push(client);
    return client;
  };

  before(async () => {
    world = await NatsWorld.start();
    gwA = await startGateway(world);
    gwB = await startGateway(world);
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  after(async () => {
    await Promise.all([gwA.gateway.close(), gwB.gateway.close()]);
    await world.stop();
  });

  it('welcomes a client of a session without events as waiting, with the ticket startsAt', async () => {
    const sessionId = randomUUID();
    const startsAt = '2030-01-01T10:00:00.000Z';
    const client = open(gwA, signTicket({ sessionId, startsAt }));
    const welcome = await client.next('welcome');
    expect(welcome).to.deep.equal({
      type: 'welcome',
      state: 'waiting',
      sessionId,
      startsAt,
      participants: 1,
      lastSeq: 0,
    });
  });

  it('counts waiting participants over two gateway instances', async () => {
    const session = sessionSnapshot('scheduled');
    await world.publishEvent(session, 'created');
    const first = open(gwA, signTicket({ sessionId: session.id }));
    expect((await first.next('welcome')).participants).to.equal(1);
    // B has no client of the session yet: its first client's welcome must still count A's client
    // (B beats on subscribing, A answers at once).
    const second = open(gwB, signTicket({ sessionId: session.id }));
    const welcome = await second.next('welcome');
    expect(welcome).to.include({ state: 'waiting', startsAt: session.startsAt, participants: 2 });
    const waiting = await first.next((f) => f.type === 'waiting' && f.participants === 2);
    expect(waiting.startsAt).to.equal(session.startsAt);
    second.close();
    await first.next((f) => f.type === 'waiting' && f.participants === 1);
  });

  it('announces every connecting user to the engine with their name and weight', async () => {
    const session = sessionSnapshot('scheduled');
    const userId = randomUUID();
    const client = open(gwA, signTicket({ sessionId: session.id, userId, name: 'Bea' }));
    await client.next('welcome');
    const [stored] = await world.storedOn(world.names.participant(session.id, userId));
    const message = ParticipantMessage.parse(stored.json());
    expect(message).to.include({ sessionId: session.id, userId, name: 'Bea', weightKg: 70 });
  });

  it('moves waiting clients in with started, and later clients are welcomed live', async () => {
    const session = sessionSnapshot('scheduled');
    await world.publishEvent(session, 'created');
    const a = open(gwA, signTicket({ sessionId: session.id }));
    const b = open(gwB, signTicket({ sessionId: session.id }));
    await Promise.all([a.next('welcome'), b.next('welcome')]);
    const startedAt = new Date().toISOString();
    await world.publishEvent({ ...session, status: 'live', startedAt }, 'started');
    expect(await a.next('started')).to.deep.equal({ type: 'started', startedAt });
    expect(await b.next('started')).to.deep.equal({ type: 'started', startedAt });
    const late = open(gwA, signTicket({ sessionId: session.id }));
    expect((await late.next('welcome')).state).to.equal('live');
  });

  it('tells waiting clients the new start time when the session is rescheduled', async () => {
    const session = sessionSnapshot('scheduled');
    const client = open(gwB, signTicket({ sessionId: session.id }));
    await client.next('welcome');
    const startsAt = '2031-05-05T05:05:05.000Z';
    await world.publishEvent({ ...session, startsAt }, 'rescheduled');
    expect(await client.next('rescheduled')).to.deep.equal({ type: 'rescheduled', startsAt });
  });

  it('sends cancelled and closes with 4410, and refuses later connects the same way', async () => {
    const session = sessionSnapshot('scheduled');
    const client = open(gwA, signTicket({ sessionId: session.id }));
    await client.next('welcome');
    await world.publishEvent(
      { ...session, status: 'cancelled', cancelledAt: new Date().toISOString() },
      'cancelled',
    );
    expect(await client.next('cancelled')).to.deep.equal({ type: 'cancelled' });
    expect((await client.closed).code).to.equal(CloseCode.SESSION_CLOSED);
    const late = open(gwB, signTicket({ sessionId: session.id }));
    expect(await late.next('cancelled')).to.deep.equal({ type: 'cancelled' });
    expect((await late.closed).code).to.equal(CloseCode.SESSION_CLOSED);
  });

  it('sends ended with the results path and closes with 4410', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const client = open(gwB, signTicket({ sessionId: session.id }));
    expect((await client.next('welcome')).state).to.equal('live');
    await world.publishEvent({ ...session, status: 'ended', endedAt: new Date().toISOString() }, 'ended');
    // It sent no rating: every seq up to 0 counts (issue 14: `lastSeq` where its ratings stop).
    expect(await client.next('ended')).to.deep.equal({
      type: 'ended',
      resultsPath: resultsPath(session.id),
      lastSeq: 0,
    });
    expect((await client.closed).code).to.equal(CloseCode.SESSION_CLOSED);
  });

  it('releases a session subscription when its last local client leaves', async () => {
    const session = sessionSnapshot('scheduled');
    const client = open(gwA, signTicket({ sessionId: session.id }));
    await client.next('welcome');
    const gauge = async () => (await gwA.gateway.metrics.localSessions.get()).values[0].value;
    const before = await gauge();
    client.close();
    await eventually(async () => ((await gauge()) === before - 1 ? true : undefined));
  });
});
