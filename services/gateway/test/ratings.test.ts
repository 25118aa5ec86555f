import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  CloseCode,
  ErrorCode,
  MAX_SOCKET_PAYLOAD_BYTES,
  decodeRatingBatch,
  partitionOf,
} from '@pulse/contracts';
import {
  NatsWorld,
  TestClient,
  eventually,
  sessionSnapshot,
  signTicket,
  startGateway,
  type RunningGateway,
} from './harness.js';
import { RawClient } from './raw-client.js';

describe('Ratings through the gateway', () => {
  let world: NatsWorld;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  const clients: TestClient[] = [];
  const open = (gw: RunningGateway, ticket: string) => {
    const client = TestClient.open(gw, ticket);
    clients.push(client);
    return client;
  };

  /** A live session and one welcomed client on gateway A. */
  async function liveClient(userId = randomUUID(), gw = gwA) {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const client = open(gw, signTicket({ sessionId: session.id, userId }));
    const welcome = await client.next('welcome');
    expect(welcome.state).to.equal('live');
    return { session, userId, client };
  }

  const pong = (client: TestClient) => {
    client.send({ type: 'ping' });
    return client.next('pong');
  };

  before(async () => {
    world = await NatsWorld.start();
    gwA = await startGateway(world, { RATING_BURST: '20', RATING_RATE_PER_SEC: '1' });
    gwB = await startGateway(world, { RATING_BURST: '20', RATING_RATE_PER_SEC: '1' });
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  after(async () => {
    await Promise.all([gwA.gateway.close(), gwB.gateway.close()]);
    await world.stop();
  });

  it('stores ratings in batch messages of their partition, with a batch msg id and a server timestamp', async () => {
    const { session, userId, client } = await liveClient();
    const before = Date.now();
    client.send({ type: 'rating', seq: 1, energy: 40 });
    client.send({ type: 'rating', seq: 2, energy: 55.5 });
    const stored = await eventually(async () => {
      const ratings = await world.storedRatings(session.id, userId);
      return ratings.length === 2 ? ratings : undefined;
    });
    expect(stored.map((m) => [m.seq, m.energy])).to.deep.equal([
      [1, 40],
      [2, 55.5],
    ]);
    expect(stored[0]).to.include({ kind: 'rating', sessionId: session.id, userId });
    expect(stored[0].ts).to.be.within(before, Date.now());
    const [batch] = await world.batchMessages(partitionOf(session.id));
    expect(
      batch.subject.startsWith(`${world.names.namespace}.ratings.${partitionOf(session.id)}.batch.`),
    ).to.equal(true);
    // <gateway>.<incarnation>.<partition>.<batch seq>
    expect(stored[1].msgId).to.match(new RegExp(`^[^.]+\\.[0-9a-f]{8}\\.${partitionOf(session.id)}\\.\\d+$`));
  });

  it('carries the ratings of many clients of a partition in few messages (issue 12)', async () => {
    const { session, client } = await liveClient();
    const others = await Promise.all(
      Array.from({ length: 9 }, async () => {
        const c = open(gwA, signTicket({ sessionId: session.id }));
        await c.next('welcome');
        return c;
      }),
    );
    const all = [client, ...others];
    const messagesBefore = (await world.batchMessages(partitionOf(session.id))).length;
    for (const c of all) c.send({ type: 'rating', seq: 1, energy: 50 });
    await Promise.all(all.map((c) => pong(c)));
    const batches = await eventually(async () => {
      const msgs = await world.batchMessages(partitionOf(session.id));
      const fresh = msgs.slice(messagesBefore);
      const ratings = fresh.reduce(
        (n, m) =>
          n +
          (decodeRatingBatch(m.string()) as { sessions: Map<string, unknown[]> }).sessions.get(session.id)!
            .length,
        0,
      );
      return ratings === 10 ? fresh : undefined;
    });
    // Ten ratings that arrive within one window (25 ms) go out in one or two messages, not ten.
    expect(batches.length).to.be.within(1, 2);
  });

  it('stores a resent seq once when the device resumes through another gateway', async () => {
    const { session, userId, client } = await liveClient();
    for (const seq of [1, 2, 3]) client.send({ type: 'rating', seq, energy: 10 * seq });
    await pong(client);
    await eventually(async () =>
      (await world.storedRatings(session.id, userId)).length === 3 ? true : undefined,
    );
    const twin = open(gwB, signTicket({ sessionId: session.id, userId }));
    expect((await twin.next('welcome')).lastSeq).to.equal(3);
    for (const seq of [2, 3, 4]) twin.send({ type: 'rating', seq, energy: 10 * seq });
    await pong(twin);
    await eventually(async () =>
      (await world.storedRatings(session.id, userId)).length === 4 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 200));
    const seqs = (await world.storedRatings(session.id, userId)).map((m) => m.seq);
    expect(seqs).to.deep.equal([1, 2, 3, 4]);
    expect(twin.frames.filter((f) => f.type === 'error')).to.deep.equal([]);
  });

  it('keeps one live socket per trainee: a newer one, on any gateway, closes the older with 4409 (issue 11)', async () => {
    const { session, userId, client } = await liveClient();
    const onB = open(gwB, signTicket({ sessionId: session.id, userId }));
    await onB.next('welcome');
    expect((await client.closed).code).to.equal(CloseCode.REPLACED);
    const backOnA = open(gwA, signTicket({ sessionId: session.id, userId }));
    await backOnA.next('welcome');
    expect((await onB.closed).code).to.equal(CloseCode.REPLACED);
    const sameGateway = open(gwA, signTicket({ sessionId: session.id, userId }));
    await sameGateway.next('welcome');
    expect((await backOnA.closed).code).to.equal(CloseCode.REPLACED);
    // Another trainee of the same session is not affected, and the newest socket still works.
    const other = open(gwB, signTicket({ sessionId: session.id, userId: randomUUID() }));
    await other.next('welcome');
    await Promise.all([pong(sameGateway), pong(other)]);
    const replaced = async (gw: typeof gwA) =>
      (await gw.gateway.metrics.connectionsReplaced.get()).values[0]?.value ?? 0;
    expect((await replaced(gwA)) + (await replaced(gwB))).to.be.at.least(3);
  });

  it('does not let a connection attempt its device gave up on replace the live socket (it arrives late, closes before its welcome)', async () => {
    const { session, userId, client } = await liveClient();
    const replacedBefore = (await gwA.gateway.metrics.connectionsReplaced.get()).values[0]?.value ?? 0;
    // The kernel delivers an abandoned attempt late: its upgrade request, then at once its FIN.
    for (const gw of [gwA, gwB]) {
      const late = RawClient.upgrade(gw, `ticket=${signTicket({ sessionId: session.id, userId })}`);
      late.end();
      await late.closed;
      expect(late.textFrames.map((f) => f.type)).to.not.include('welcome');
    }
    await new Promise((r) => setTimeout(r, 200));
    await pong(client);
    client.send({ type: 'rating', seq: 1, energy: 40 });
    await eventually(async () =>
      (await world.storedRatings(session.id, userId)).length === 1 ? true : undefined,
    );
    const replacedAfter = (await gwA.gateway.metrics.connectionsReplaced.get()).values[0]?.value ?? 0;
    expect(replacedAfter).to.equal(replacedBefore);
  });

  it('orders two sockets of the same device by attempt: an earlier attempt arriving late is closed, the live one stays (on any gateway)', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const userId = randomUUID();
    const ticket = signTicket({ sessionId: session.id, userId });
    const live = TestClient.open(gwA, ticket, 'device=phone-1&attempt=2');
    clients.push(live);
    await live.next('welcome');
    // Where the live socket is, the late attempt is closed before its welcome; another gateway welcomes it
    // and closes it as soon as the live socket's gateway hears of it and announces the newer attempt again.
    for (const gw of [gwA, gwB]) {
      const late = TestClient.open(gw, ticket, 'device=phone-1&attempt=1');
      clients.push(late);
      expect((await late.closed).code).to.equal(CloseCode.REPLACED);
      if (gw === gwA) expect(late.frames.map((f) => f.type)).to.not.include('welcome');
    }
    await pong(live);
    // Another device of the trainee, connected later, still takes over by accept time.
    const tablet = TestClient.open(gwB, ticket, 'device=tablet&attempt=1');
    clients.push(tablet);
    await tablet.next('welcome');
    expect((await live.closed).code).to.equal(CloseCode.REPLACED);
  });

  it('refuses an upgrade whose device or attempt is malformed, or one without the other, with 400', async () => {
    const ticket = `ticket=${signTicket({ sessionId: sessionSnapshot('live').id })}`;
    for (const extra of [
      'device=a&attempt=0',
      'device=a',
      'attempt=1',
      'device=a b&attempt=1',
      'device=a&attempt=1&attempt=2',
    ]) {
      const raw = RawClient.upgrade(gwA, `${ticket}&${extra}`);
      await raw.until((r) => r.httpHead !== '');
      expect(raw.httpHead, extra).to.match(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(raw.httpBody)).to.nested.include({ 'error.code': ErrorCode.VALIDATION_FAILED });
    }
  });

  it('gives a client that reconnects through another gateway the engine’s last counted seq as lastSeq', async () => {
    const { session, userId, client } = await liveClient();
    for (let seq = 1; seq <= 7; seq++) client.send({ type: 'rating', seq, energy: 50 });
    await eventually(async () =>
      (await world.storedRatings(session.id, userId)).length === 7 ? true : undefined,
    );
    client.close();
    const again = open(gwB, signTicket({ sessionId: session.id, userId }));
    expect((await again.next('welcome')).lastSeq).to.equal(7);
    // Resending from before lastSeq is harmless: seqs up to 7 are ignored, 8 is stored.
    for (let seq = 6; seq <= 8; seq++) again.send({ type: 'rating', seq, energy: 50 });
    await eventually(async () =>
      (await world.storedRatings(session.id, userId)).length === 8 ? true : undefined,
    );
  });

  it('answers bad frames with INVALID_MESSAGE and keeps the socket open', async () => {
    const { client } = await liveClient();
    const bad = [
      '{not json',
      JSON.stringify({ type: 'rating', seq: '1', energy: 50 }),
      JSON.stringify({ type: 'rating', seq: 1, energy: 101 }),
      JSON.stringify({ type: 'rating', seq: 1, energy: -1 }),
      JSON.stringify({ type: 'rating', seq: 0, energy: 5 }),
      JSON.stringify({ type: 'dance' }),
      JSON.stringify({ type: 'rating', seq: 1, energy: 5, extra: 'x'.repeat(2000) }),
    ];
    for (const frame of bad) client.send(frame);
    for (let i = 0; i < bad.length; i++) {
      expect((await client.next('error')).code).to.equal(ErrorCode.INVALID_MESSAGE);
    }
    await pong(client);
  });

  it('closes a socket with 1009 on a frame beyond the socket payload limit', async () => {
    const { client } = await liveClient();
    client.send('x'.repeat(MAX_SOCKET_PAYLOAD_BYTES + 1));
    expect((await client.closed).code).to.equal(CloseCode.MESSAGE_TOO_BIG);
  });

  it('answers ratings in the waiting room with NOT_LIVE and the seq', async () => {
    const session = sessionSnapshot('scheduled');
    const client = open(gwA, signTicket({ sessionId: session.id }));
    await client.next('welcome');
    client.send({ type: 'rating', seq: 1, energy: 50 });
    expect(await client.next('error')).to.include({ code: ErrorCode.NOT_LIVE, seq: 1 });
  });

  it('answers a flood beyond the burst with RATE_LIMITED while another client carries on', async () => {
    const { session, client } = await liveClient();
    const other = open(gwA, signTicket({ sessionId: session.id }));
    await other.next('welcome');
    for (let seq = 1; seq <= 30; seq++) client.send({ type: 'rating', seq, energy: 50 });
    const limited = await client.next('error');
    expect(limited).to.include({ code: ErrorCode.RATE_LIMITED, seq: 21 });
    other.send({ type: 'rating', seq: 1, energy: 50 });
    await pong(other);
    await pong(client);
    const errors = client.frames.filter((f) => f.type === 'error');
    expect(errors.map((f) => f.seq)).to.deep.equal([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    expect(other.frames.filter((f) => f.type === 'error')).to.deep.equal([]);
  });

  it('answers UNAVAILABLE with the seq when JetStream cannot store a rating', async () => {
    const { session, userId, client } = await liveClient();
    await world.jsm.streams.delete(world.names.ratingsStream);
    try {
      client.send({ type: 'rating', seq: 1, energy: 50 });
      expect(await client.next('error', 15_000)).to.include({ code: ErrorCode.UNAVAILABLE, seq: 1 });
      await pong(client);
    } finally {
      await world.recreateStreams();
    }
    client.send({ type: 'rating', seq: 1, energy: 50 });
    await eventually(async () =>
      (await world.storedRatings(session.id, userId)).length === 1 ? true : undefined,
    );
  });

  it('stores no seq above one that failed, so lastSeq never hides it', async () => {
    const { session, userId, client } = await liveClient();
    const stored = () => world.storedRatings(session.id, userId);
    client.send({ type: 'rating', seq: 1, energy: 10 });
    await eventually(async () => ((await stored()).length === 1 ? true : undefined));
    await world.jsm.streams.delete(world.names.ratingsStream);
    try {
      client.send({ type: 'rating', seq: 2, energy: 20 });
      expect(await client.next('error', 15_000)).to.include({
        code: ErrorCode.UNAVAILABLE,
        seq: 2,
        resendFrom: 2,
      });
    } finally {
      await world.recreateStreams();
    }
    client.send({ type: 'rating', seq: 3, energy: 30 });
    expect(await client.next('error')).to.include({ code: ErrorCode.UNAVAILABLE, seq: 3, resendFrom: 2 });
    await pong(client);
    expect(await stored()).to.have.length(0);
    client.close();
    const again = open(gwB, signTicket({ sessionId: session.id, userId }));
    expect((await again.next('welcome')).lastSeq).to.equal(0); // the recreated stream lost seq 1 as well
    for (const seq of [1, 2, 3]) again.send({ type: 'rating', seq, energy: 10 * seq });
    const all = await eventually(async () => {
      const ratings = await stored();
      return ratings.length === 3 ? ratings : undefined;
    });
    expect(all.map((m) => m.seq)).to.deep.equal([1, 2, 3]);
  });

  it('refuses the connect with UNAVAILABLE and 1012 when no engine answers lastSeq', async () => {
    const quiet = await NatsWorld.start({ engine: false });
    const gw = await startGateway(quiet, { LAST_SEQ_TIMEOUT_MS: '300' });
    try {
      const session = sessionSnapshot('live');
      await quiet.publishEvent(session, 'started');
      const client = open(gw, signTicket({ sessionId: session.id }));
      expect(await client.next('error')).to.include({ code: ErrorCode.UNAVAILABLE });
      expect((await client.closed).code).to.equal(CloseCode.RECONNECT);
    } finally {
      await gw.gateway.close();
      await quiet.stop();
    }
  });
});
