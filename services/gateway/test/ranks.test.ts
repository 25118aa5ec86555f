import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { CloseCode, type RankSnapshot, type TopEntry } from '@pulse/contracts';
import {
  NatsWorld,
  TestClient,
  eventually,
  sessionSnapshot,
  signTicket,
  sleep,
  startGateway,
  type RunningGateway,
} from './harness.js';

describe('Rank fan-out', () => {
  let world: NatsWorld;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  const clients: TestClient[] = [];

  before(async () => {
    world = await NatsWorld.start();
    gwA = await startGateway(world);
    gwB = await startGateway(world, {
      SEND_BUFFER_LOW_BYTES: String(16 * 1024),
      SEND_BUFFER_MAX_BYTES: String(256 * 1024),
      SLOW_CONSUMER_MS: '300',
    });
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  after(async () => {
    await Promise.all([gwA.gateway.close(), gwB.gateway.close()]);
    await world.stop();
  });

  async function join(gw: RunningGateway, sessionId: string, userId = randomUUID()) {
    const client = TestClient.open(gw, signTicket({ sessionId, userId }));
    clients.push(client);
    await client.next('welcome');
    return { client, userId };
  }

  function snapshot(sessionId: string, tick: number, rows: Array<[string, number, number]>, top: TopEntry[]) {
    const s: RankSnapshot = {
      sessionId,
      tick,
      at: Date.UTC(2030, 0, 1, 10, 0, tick % 60),
      participants: rows.length,
      top,
      chunk: 0,
      chunks: 1,
      userIds: rows.map((r) => r[0]),
      ranks: rows.map((_, i) => i + 1),
      scores: rows.map((r) => r[1]),
      seqs: rows.map((r) => r[2]),
    };
    world.nc.publish(world.names.ranks(sessionId), JSON.stringify(s));
    return s;
  }

  it('sends every local client its own rank, score and seq with the shared top', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const ana = await join(gwA, session.id);
    const bo = await join(gwB, session.id);
    const cy = await join(gwA, session.id);
    const rows: Array<[string, number, number]> = [
      [randomUUID(), 900, 12],
      [bo.userId, 800.5, 11],
      [ana.userId, 700, 10],
      [randomUUID(), 600, 9],
      [cy.userId, 500, 8],
    ];
    const top = rows.slice(0, 3).map(([userId, score], i) => ({ rank: i + 1, userId, name: `u${i}`, score }));
    const sent = snapshot(session.id, 3, rows, top);
    const at = new Date(sent.at).toISOString();
    const expected = (rank: number, score: number, seq: number) => ({
      type: 'rank',
      rank,
      participants: 5,
      score,
      top,
      at,
      seq,
    });
    expect(await ana.client.next('rank')).to.deep.equal(expected(3, 700, 10));
    expect(await bo.client.next('rank')).to.deep.equal(expected(2, 800.5, 11));
    expect(await cy.client.next('rank')).to.deep.equal(expected(5, 500, 8));
  });

  it('keeps sending to a reading client while one stops reading, then closes the stalled one with 4429', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const stalled = await join(gwB, session.id);
    const reader = await join(gwB, session.id);
    stalled.client.ws.pause();
    // About 100 KB per frame so that the kernel's socket buffers fill within a few hundred ticks.
    const top = Array.from({ length: 10 }, (_, i) => ({
      rank: i + 1,
      userId: randomUUID(),
      name: 'n'.repeat(10_000),
      score: 1000 - i,
    }));
    const rows = (tick: number): Array<[string, number, number]> => [
      [reader.userId, tick, tick],
      [stalled.userId, tick, tick],
    ];
    const slowClosed = async () =>
      (await gwB.gateway.metrics.slowConsumersClosed.get()).values[0]?.value ?? 0;
    const closedBefore = await slowClosed();
    let tick = 0;
    while ((await slowClosed()) === closedBefore) {
      snapshot(session.id, ++tick, rows(tick), top);
      await reader.client.next((f) => f.type === 'rank' && f.seq === tick, 2_000);
      await sleep(5);
      expect(tick).to.be.below(2_000);
    }
    // The stalled client is closed; the reader still gets the very next tick.
    snapshot(session.id, ++tick, rows(tick), top);
    await reader.client.next((f) => f.type === 'rank' && f.seq === tick, 2_000);
    stalled.client.ws.resume();
    expect((await stalled.client.closed).code).to.equal(CloseCode.SLOW_CONSUMER);
    const dropped = await gwB.gateway.metrics.rankFramesDropped.get();
    expect(dropped.values[0].value).to.be.greaterThan(0);
  });

  it('coalesces rank frames: a client gets the newest snapshot, never an older one after it', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const c = await join(gwA, session.id);
    for (let tick = 1; tick <= 50; tick++) snapshot(session.id, tick, [[c.userId, tick, tick]], []);
    await c.client.next((f) => f.type === 'rank' && f.seq === 50);
    const seqs = c.client.frames.filter((f) => f.type === 'rank').map((f) => f.seq as number);
    expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
    await eventually(() => (c.client.frames.at(-1)?.seq === 50 ? true : undefined));
  });

  it("sends a frame at once when the client's seq moved, else only its newest frame once the last is stale", async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const c = await join(gwA, session.id);
    const other = randomUUID();
    snapshot(session.id, 1, [[c.userId, 50, 5]], []);
    expect(await c.client.next('rank')).to.include({ rank: 1, seq: 5 });
    // Same seq, other ranks: not worth a frame each (the next one below shows they were skipped)...
    snapshot(
      session.id,
      2,
      [
        [other, 90, 1],
        [c.userId, 50, 5],
      ],
      [],
    );
    snapshot(
      session.id,
      3,
      [
        [other, 90, 1],
        [randomUUID(), 80, 1],
        [c.userId, 50, 5],
      ],
      [],
    );
    // ...a moved seq is sent at once.
    snapshot(session.id, 4, [[c.userId, 60, 6]], []);
    expect(await c.client.next('rank')).to.include({ rank: 1, seq: 6, score: 60 });
    // Nothing new: the newest frame comes again once the last one is stale (at least one frame a second).
    snapshot(
      session.id,
      5,
      [
        [other, 90, 1],
        [c.userId, 60, 6],
      ],
      [],
    );
    expect(await c.client.next('rank', 2_000)).to.include({ rank: 2, seq: 6, score: 60 });
    expect(await c.client.next('rank', 2_000)).to.include({ rank: 2, seq: 6, score: 60 });
  });

  it('ignores a rank snapshot of another session or with columns of different lengths', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const c = await join(gwA, session.id);
    const foreign = { ...snapshot(randomUUID(), 1, [[c.userId, 70, 7]], []) };
    world.nc.publish(world.names.ranks(session.id), JSON.stringify(foreign));
    const broken = {
      ...snapshot(randomUUID(), 2, [[c.userId, 80, 8]], []),
      sessionId: session.id,
      ranks: [],
    };
    world.nc.publish(world.names.ranks(session.id), JSON.stringify(broken));
    snapshot(session.id, 3, [[c.userId, 90, 9]], []);
    expect(await c.client.next('rank')).to.include({ score: 90, seq: 9 });
  });
});
