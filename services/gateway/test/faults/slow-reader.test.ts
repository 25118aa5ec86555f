import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { CloseCode, type RankSnapshot } from '@pulse/contracts';
import {
  NatsWorld,
  TestClient,
  sessionSnapshot,
  signTicket,
  sleep,
  startGateway,
  type RunningGateway,
} from '../harness.js';

const READERS = 10;
const SEND_BUFFER_MAX_BYTES = 1024 * 1024;

/** Buffers held by this process (ws send queues live here): the gateway runs in-process. */
const bufferBytes = () => {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.external;
};

describe('Fault 4: a client that stops reading', () => {
  let world: NatsWorld;
  let gw: RunningGateway;
  const clients: TestClient[] = [];

  before(async () => {
    world = await NatsWorld.start();
    gw = await startGateway(world, {
      SEND_BUFFER_LOW_BYTES: String(64 * 1024),
      SEND_BUFFER_MAX_BYTES: String(SEND_BUFFER_MAX_BYTES),
      SLOW_CONSUMER_MS: '3000',
    });
  });
  after(async () => {
    clients.forEach((c) => c.close());
    await gw.gateway.close();
    await world.stop();
  });

  it('keeps its memory bounded, closes it with 4429 and does not delay the other clients', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const join = async () => {
      const userId = randomUUID();
      const client = TestClient.open(gw, signTicket({ sessionId: session.id, userId }));
      clients.push(client);
      await client.next('welcome');
      return { client, userId };
    };
    const stalled = await join();
    const readers = await Promise.all(Array.from({ length: READERS }, join));
    const receivedAt = new Map<string, number[]>();
    for (const r of readers) {
      const times: number[] = [];
      receivedAt.set(r.userId, times);
      r.client.ws.on('message', () => times.push(performance.now()));
    }
    stalled.client.ws.pause(); // stops reading: the kernel buffers fill, then the gateway's
    const top = Array.from({ length: 10 }, (_, i) => ({
      rank: i + 1,
      userId: randomUUID(),
      name: 'n'.repeat(5_000),
      score: 100 - i,
    }));
    const userIds = [stalled.userId, ...readers.map((r) => r.userId)];
    const publishedAt: number[] = [];
    const baseline = bufferBytes();
    let peak = baseline;
    let closedAtTick = -1;
    const startedMs = performance.now();
    const slowClosed = async () => (await gw.gateway.metrics.slowConsumersClosed.get()).values[0]?.value ?? 0;
    // ~50 KB frames at 20 Hz (20x the engine's rate) until the stalled client is closed, and 1 s more.
    for (let tick = 1; tick <= 400; tick++) {
      const snapshot: RankSnapshot = {
        sessionId: session.id,
        tick,
        at: Date.now(),
        participants: userIds.length,
        top,
        chunk: 0,
        chunks: 1,
        userIds,
        ranks: userIds.map((_, i) => i + 1),
        scores: userIds.map(() => tick),
        seqs: userIds.map(() => tick),
      };
      publishedAt.push(performance.now());
      world.nc.publish(world.names.ranks(session.id), JSON.stringify(snapshot));
      await sleep(50);
      peak = Math.max(peak, bufferBytes());
      if (closedAtTick < 0 && (await slowClosed()) > 0) closedAtTick = tick;
      if (closedAtTick > 0 && tick > closedAtTick + 20) break;
    }
    await sleep(300);
    stalled.client.ws.resume();
    const { code } = await stalled.client.closed;
    // Delay of each reader: a frame's arrival after its snapshot was published (frames arrive in order).
    const delays: number[] = [];
    for (const times of receivedAt.values()) {
      const ranks = times.slice(-publishedAt.length);
      ranks.forEach((t, i) => delays.push(t - publishedAt[publishedAt.length - ranks.length + i]));
    }
    delays.sort((a, b) => a - b);
    const framesPerReader = [...receivedAt.values()].map((t) => t.length);
    const figures = {
      closeCode: code,
      secondsUntilClosed: closedAtTick > 0 ? (closedAtTick * 50) / 1000 : null,
      peakExtraBufferMBInProcess: Math.round(((peak - baseline) / 2 ** 20) * 10) / 10,
      ticksPublished: publishedAt.length,
      minRankFramesPerReader: Math.min(...framesPerReader),
      readerDelayP50Ms: Math.round(delays[Math.floor(delays.length * 0.5)]),
      readerDelayP99Ms: Math.round(delays[Math.floor(delays.length * 0.99)]),
      readerDelayMaxMs: Math.round(delays[delays.length - 1]),
      runSeconds: Math.round(performance.now() - startedMs) / 1000,
    };
    console.log(`FAULT-FIGURES slow-reader ${JSON.stringify(figures)}`);
    expect(code).to.equal(CloseCode.SLOW_CONSUMER);
    // Closed by the gateway after SLOW_CONSUMER_MS without a rank frame written (plus kernel buffer fill).
    expect(closedAtTick).to.be.within(1, 200);
    expect(Math.min(...framesPerReader)).to.be.at.least(publishedAt.length - 1);
  });
});
