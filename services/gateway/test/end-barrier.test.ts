import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  CloseCode,
  EndBarrierMessage,
  ErrorCode,
  RATING_BARRIER_TOKEN,
  RATING_BATCH_TOKEN,
  decodeRatingBatch,
  partitionOf,
  resultsPath,
} from '@pulse/contracts';
import {
  NatsWorld,
  TestClient,
  sessionSnapshot,
  signTicket,
  startGateway,
  type RunningGateway,
} from './harness.js';

describe('The end of a session is a barrier (issue 14)', () => {
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

  /** The stream sequences of the session's rating batches and of its end barriers, by gateway. */
  async function streamOrder(sessionId: string) {
    const partition = partitionOf(sessionId);
    const batches: number[] = [];
    const barriers = new Map<string, number>();
    for (const msg of await world.storedOn(world.names.partitionRatings(partition))) {
      const token = msg.subject.split('.')[3];
      if (token === RATING_BATCH_TOKEN) {
        const batch = decodeRatingBatch(msg.string());
        if (batch.ok && batch.sessions.has(sessionId)) batches.push(msg.seq);
      } else if (token === RATING_BARRIER_TOKEN) {
        const barrier = EndBarrierMessage.parse(msg.json());
        if (barrier.sessionId === sessionId) barriers.set(barrier.gatewayId, msg.seq);
      }
    }
    return { batches, barriers };
  }

  it('stores what a client sent before the end, puts the barrier behind it and tells the client where its ratings stop', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const userId = randomUUID();
    const client = open(gwA, signTicket({ sessionId: session.id, userId }));
    await client.next('welcome');
    // Twenty ratings the gateway has read before it learns of the end (a pong answers after them), forty
    // racing it: every one is stored up to ended.lastSeq; above it, one read before the socket closed is
    // refused with NOT_LIVE, and one read after is what ended.lastSeq already told the device was not taken.
    for (let seq = 1; seq <= 20; seq++) client.send({ type: 'rating', seq, energy: seq });
    client.send({ type: 'ping' });
    await client.next('pong');
    const ended = world.publishEvent(
      { ...session, status: 'ended', endedAt: new Date().toISOString() },
      'ended',
    );
    for (let seq = 21; seq <= 60; seq++) client.send({ type: 'rating', seq, energy: seq });
    await ended;
    const frame = await client.next('ended', 15_000);
    expect(frame).to.include({ type: 'ended', resultsPath: resultsPath(session.id) });
    const lastSeq = frame.lastSeq as number;
    expect(lastSeq).to.be.within(20, 60);
    expect((await client.closed).code).to.equal(CloseCode.SESSION_CLOSED);

    const stored = (await world.storedRatings(session.id, userId)).map((r) => r.seq);
    expect(stored).to.deep.equal(Array.from({ length: lastSeq }, (_, i) => i + 1));
    const refused = client.frames
      .filter((f) => f.type === 'error')
      .map((f) => {
        expect(f.code).to.equal(ErrorCode.NOT_LIVE);
        return f.seq as number;
      });
    // The refused ones are the seqs right above lastSeq, in order (the rest came after the close).
    expect(refused).to.deep.equal(Array.from({ length: refused.length }, (_, i) => lastSeq + i + 1));

    const { batches, barriers } = await streamOrder(session.id);
    expect(barriers.size).to.equal(1);
    const [barrierSeq] = [...barriers.values()];
    for (const seq of batches) expect(seq).to.be.below(barrierSeq);
  });

  it('has every gateway holding clients of the session publish its own barrier', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const a = open(gwA, signTicket({ sessionId: session.id }));
    const b = open(gwB, signTicket({ sessionId: session.id }));
    await Promise.all([a.next('welcome'), b.next('welcome')]);
    a.send({ type: 'rating', seq: 1, energy: 10 });
    b.send({ type: 'rating', seq: 1, energy: 20 });
    await Promise.all([
      a.next('rank', 100).catch(() => undefined),
      b.next('rank', 100).catch(() => undefined),
    ]);
    await world.publishEvent({ ...session, status: 'ended', endedAt: new Date().toISOString() }, 'ended');
    expect((await a.next('ended')).lastSeq).to.equal(1);
    expect((await b.next('ended')).lastSeq).to.equal(1);
    const { batches, barriers } = await streamOrder(session.id);
    expect(barriers.size).to.equal(2);
    for (const seq of batches) for (const barrier of barriers.values()) expect(seq).to.be.below(barrier);
  });

  it('tells a client that connects after the end only where the results are', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    await world.publishEvent({ ...session, status: 'ended', endedAt: new Date().toISOString() }, 'ended');
    const late = open(gwB, signTicket({ sessionId: session.id }));
    expect(await late.next('ended')).to.deep.equal({ type: 'ended', resultsPath: resultsPath(session.id) });
    expect((await late.closed).code).to.equal(CloseCode.SESSION_CLOSED);
  });

  describe('a ticket that expired meanwhile', () => {
    const expiredTicket = (sessionId: string, userId: string) =>
      signTicket({ sessionId, userId }, { expiresIn: -60 });

    it('still learns that its session ended and, once frozen, where its counted ratings stop', async () => {
      const session = sessionSnapshot('live');
      const userId = randomUUID();
      await world.publishEvent(session, 'started');
      const client = open(gwA, signTicket({ sessionId: session.id, userId }));
      await client.next('welcome');
      for (let seq = 1; seq <= 3; seq++) client.send({ type: 'rating', seq, energy: 50 });
      client.send({ type: 'ping' }); // answered once the gateway has read the three ratings
      await client.next('pong');
      await world.publishEvent({ ...session, status: 'ended', endedAt: new Date().toISOString() }, 'ended');
      expect((await client.next('ended')).lastSeq).to.equal(3);
      world.frozen.add(session.id);
      const late = open(gwB, expiredTicket(session.id, userId));
      expect(await late.next('ended')).to.deep.equal({
        type: 'ended',
        resultsPath: resultsPath(session.id),
        lastSeq: 3,
      });
      expect((await late.closed).code).to.equal(CloseCode.SESSION_CLOSED);
    });

    it('learns that its session was cancelled', async () => {
      const session = sessionSnapshot('scheduled');
      await world.publishEvent(
        { ...session, status: 'cancelled', cancelledAt: new Date().toISOString() },
        'cancelled',
      );
      const late = open(gwA, expiredTicket(session.id, randomUUID()));
      expect(await late.next('cancelled')).to.deep.equal({ type: 'cancelled' });
      expect((await late.closed).code).to.equal(CloseCode.SESSION_CLOSED);
    });

    it('is refused with 4401 while the session is not over, and joins nothing', async () => {
      const session = sessionSnapshot('live');
      await world.publishEvent(session, 'started');
      const userId = randomUUID();
      const live = open(gwA, signTicket({ sessionId: session.id, userId }));
      await live.next('welcome');
      const late = open(gwB, expiredTicket(session.id, userId));
      expect((await late.next('error')).code).to.equal(ErrorCode.UNAUTHENTICATED);
      expect((await late.closed).code).to.equal(CloseCode.UNAUTHORIZED);
      live.send({ type: 'ping' });
      await live.next('pong'); // the live socket was not replaced
    });
  });
});
