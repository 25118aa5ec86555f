import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ClickHouseServer, NatsServer, sleep, waitFor } from './support/servers.js';
import { FaultTrainee } from './support/trainee.js';
import { FaultWorld, endedSession, joinTicket, liveSession, wsUrl } from './support/world.js';

const TRAINEES = 20;
const DOWN_MS = 5_000;

describe('Fault 1: NATS restarts mid-session (about 5 s down)', () => {
  let nats: NatsServer;
  let clickhouse: ClickHouseServer;
  let world: FaultWorld;
  const trainees: FaultTrainee[] = [];

  before(async () => {
    [nats, clickhouse] = await Promise.all([NatsServer.start(), ClickHouseServer.start()]);
    world = await FaultWorld.open(nats.url, clickhouse.url);
  });
  after(async () => {
    trainees.forEach((t) => t.close());
    await world?.close();
    await Promise.all([nats?.destroy(), clickhouse?.destroy()]);
  });

  it('keeps sockets open, answers UNAVAILABLE, resumes ranks and ends with exact scores', async () => {
    const fast = { RANK_TICK_MS: '100', CH_FLUSH_MS: '100', RESULTS_FLUSH_MS: '500', ACK_WAIT_MS: '3000' };
    await world.start('live-engine', fast);
    const gateway = await world.start('gateway', {
      PUBLISH_TIMEOUT_MS: '1000',
      RATING_RATE_PER_SEC: '200',
      RATING_BURST: '1000',
    });
    const session = liveSession();
    await world.publishEvent(session, 'started');
    for (let i = 0; i < TRAINEES; i++) {
      const userId = randomUUID();
      const t = new FaultTrainee(wsUrl(gateway), joinTicket(session, userId, `T${i}`), userId, i);
      trainees.push(t);
      t.start();
    }
    await waitFor(
      'ranks for every trainee',
      () => (trainees.every((t) => t.rankSeq > 5) ? true : undefined),
      20_000,
    );

    await nats.stop('SIGTERM');
    const downAt = Date.now();
    await sleep(1_500);
    const readyDuring = await fetch(`${gateway.baseUrl}/readyz`).then((r) => r.status);
    await sleep(DOWN_MS - 1_500);
    await nats.restart();
    const upAt = Date.now();
    const ranksResumed = await waitFor(
      'rank frames after NATS returned',
      () => {
        const last = Math.min(...trainees.map((t) => t.rankTimesMs.find((ms) => ms > upAt) ?? Infinity));
        return Number.isFinite(last) ? last : undefined;
      },
      30_000,
      20,
    );
    await sleep(2_000);
    trainees.forEach((t) => t.stopProducing());
    await waitFor(
      'every trainee counted up to its last rating',
      () => (trainees.every((t) => t.caughtUp) ? true : undefined),
      30_000,
    );
    const caughtUpAt = Date.now();
    const socketsClosed = trainees.reduce((n, t) => n + t.closeCodes.length, 0);

    await world.publishEvent(endedSession(session), 'ended');
    const standings = await world.finalStandings(session.id);
    const counts = await world.ratingCounts(session.id);
    const generated = trainees.reduce((n, t) => n + t.generated, 0);
    let lost = 0;
    let doubled = 0;
    for (const t of trainees) {
      const s = standings.get(t.userId);
      const diff = (s?.samples ?? 0) - t.generated;
      if (diff < 0) lost -= diff;
      else doubled += diff;
      expect(s?.score, `score of trainee ${t.index}`).to.equal(t.expectedScore);
    }
    const unavailable = trainees.reduce(
      (n, t) => n + t.errors.filter((e) => e.code === 'UNAVAILABLE').length,
      0,
    );
    const figures = {
      trainees: TRAINEES,
      natsDownSeconds: (upAt - downAt) / 1000,
      ratingsGenerated: generated,
      ratingsLost: lost,
      ratingsDoubled: doubled,
      clickhouseRows: counts,
      unavailableErrors: unavailable,
      socketsClosed,
      gatewayReadyzDuringOutage: readyDuring,
      secondsToFirstRankOnEveryClient: (ranksResumed - upAt) / 1000,
      secondsUntilAllCaughtUp: (caughtUpAt - upAt) / 1000,
    };
    console.log(`FAULT-FIGURES nats-restart ${JSON.stringify(figures)}`);
    expect([lost, doubled]).to.deep.equal([0, 0]);
    expect(counts.final).to.equal(generated);
    expect(counts.distinct).to.equal(generated);
    expect(socketsClosed).to.equal(0);
    expect(readyDuring).to.equal(503);
    expect(unavailable).to.be.greaterThan(0);
    expect(trainees.flatMap((t) => t.protocolViolations)).to.deep.equal([]);
  });
});
