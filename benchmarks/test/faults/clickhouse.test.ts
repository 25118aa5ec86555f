import { randomUUID } from 'node:crypto';
import type { Subscription } from '@nats-io/transport-node';
import { expect } from 'chai';
import { RankSnapshot, type SessionSnapshot } from '@pulse/contracts';
import { ClickHouseServer, NatsServer, sleep, waitFor } from './support/servers.js';
import { FaultWorld, endedSession, energyOf, liveSession } from './support/world.js';

const USERS = 20;
// The feed plays devices at 10 ratings/s (a round every 100 ms): the score allowance follows that rate.
const ENGINE_ENV = {
  RANK_TICK_MS: '100',
  CH_FLUSH_MS: '100',
  RESULTS_FLUSH_MS: '500',
  ACK_WAIT_MS: '3000',
  SCORE_ALLOWANCE_PER_SEC: '20',
};

/** A session fed straight into JetStream (as gateways would), with the engine's rank snapshots recorded. */
class Feed {
  readonly users = Array.from({ length: USERS }, () => randomUUID());
  readonly session: SessionSnapshot = liveSession();
  seq = 0;
  readonly snapshotTimesMs: number[] = [];
  /** Highest seq counted per user according to the latest rank snapshot. */
  readonly counted = new Map<string, number>();
  private sub: Subscription | undefined;

  constructor(private readonly world: FaultWorld) {}

  async begin(): Promise<void> {
    this.sub = this.world.nc.subscribe(this.world.names.ranks(this.session.id), {
      callback: (_err, msg) => {
        const snap = RankSnapshot.safeParse(msg.json());
        if (!snap.success) return;
        this.snapshotTimesMs.push(Date.now());
        snap.data.userIds.forEach((u, i) => this.counted.set(u, snap.data.seqs[i]));
      },
    });
    await this.world.publishEvent(this.session, 'started');
    for (const [i, u] of this.users.entries())
      await this.world.publishParticipant(this.session.id, u, `U${i}`);
  }

  /** One more rating for every user. */
  async round(): Promise<void> {
    this.seq += 1;
    const seq = this.seq;
    await this.world.publishRatings(
      this.session.id,
      this.users.map((userId, i) => ({ userId, seq, energy: energyOf(i, seq) })),
    );
  }

  async rounds(n: number, everyMs = 100): Promise<void> {
    for (let k = 0; k < n; k++) {
      await this.round();
      await sleep(everyMs);
    }
  }

  allCounted(): boolean {
    return this.users.every((u) => this.counted.get(u) === this.seq);
  }

  /** Ends the session and checks the frozen results: every rating once, exact scores. */
  async verify(): Promise<{
    lost: number;
    doubled: number;
    rows: { physical: number; final: number; distinct: number };
  }> {
    this.sub?.unsubscribe();
    await this.world.publishEvent(endedSession(this.session), 'ended');
    const standings = await this.world.finalStandings(this.session.id);
    let lost = 0;
    let doubled = 0;
    for (const [i, u] of this.users.entries()) {
      const s = standings.get(u);
      const diff = (s?.samples ?? 0) - this.seq;
      if (diff < 0) lost -= diff;
      else doubled += diff;
      let expected = 0;
      for (let seq = 1; seq <= this.seq; seq++) expected += energyOf(i, seq);
      expect(s?.score, `score of user ${i}`).to.equal(expected);
    }
    return { lost, doubled, rows: await this.world.ratingCounts(this.session.id) };
  }
}

const maxGapSeconds = (times: number[], from: number, to: number) => {
  const inside = [from, ...times.filter((t) => t > from && t < to), to];
  let gap = 0;
  for (let i = 1; i < inside.length; i++) gap = Math.max(gap, inside[i] - inside[i - 1]);
  return gap / 1000;
};

describe('Faults 2 and 5: ClickHouse outages and an engine killed mid-batch', () => {
  let nats: NatsServer;
  let clickhouse: ClickHouseServer;
  let world: FaultWorld | undefined;

  before(async () => {
    [nats, clickhouse] = await Promise.all([NatsServer.start(), ClickHouseServer.start()]);
  });
  afterEach(async () => {
    clickhouse.thaw();
    await world?.close();
    world = undefined;
  });
  after(async () => {
    await Promise.all([nats?.destroy(), clickhouse?.destroy()]);
  });

  it('2: ClickHouse down 30 s — ranks go on, readyz names it, every rating lands exactly once after', async () => {
    world = await FaultWorld.open(nats.url, clickhouse.url);
    const engine = await world.start('live-engine', ENGINE_ENV);
    const feed = new Feed(world);
    await feed.begin();
    await feed.rounds(20);
    await waitFor(
      'ratings in ClickHouse',
      async () =>
        (await world!.ratingCounts(feed.session.id)).final === feed.seq * USERS ? true : undefined,
      20_000,
    );

    await clickhouse.stop();
    const downAt = Date.now();
    await feed.rounds(30);
    const readyz = await fetch(`${engine.baseUrl}/readyz`);
    const readyBody = (await readyz.json()) as { degraded?: string[]; checks?: { clickhouse?: string } };
    while (Date.now() - downAt < 30_000) await feed.rounds(1);
    const rankedDuringOutage =
      feed.allCounted() ||
      (await waitFor('ranks during the outage', () => (feed.allCounted() ? true : undefined), 5_000));
    const gap = maxGapSeconds(feed.snapshotTimesMs, downAt + 1_000, Date.now());
    const snapshotsDuringOutage = feed.snapshotTimesMs.filter((t) => t > downAt).length;
    await clickhouse.restart();
    const upAt = Date.now();
    const downSeconds = (upAt - downAt) / 1000;
    const total = feed.seq * USERS;
    await waitFor(
      'every rating in ClickHouse',
      async () => ((await world!.ratingCounts(feed.session.id)).final === total ? true : undefined),
      60_000,
      100,
    );
    const storedAt = Date.now();
    const readyAfter = await waitFor(
      'engine ready again',
      async () => {
        const r = await fetch(`${engine.baseUrl}/readyz`);
        await r.arrayBuffer();
        return r.status === 200 ? Date.now() : undefined;
      },
      30_000,
    );
    const result = await feed.verify();
    const figures = {
      clickhouseDownSeconds: downSeconds,
      ratings: total,
      ratingsLost: result.lost,
      ratingsDoubled: result.doubled,
      clickhouseRows: result.rows,
      readyzDuringOutage: { httpStatus: readyz.status, body: readyBody },
      rankSnapshotsDuringOutage: snapshotsDuringOutage,
      maxSecondsBetweenRankSnapshotsDuringOutage: gap,
      secondsUntilAllRowsStored: (storedAt - upAt) / 1000,
      secondsUntilReadyAgain: (readyAfter - upAt) / 1000,
    };
    console.log(`FAULT-FIGURES clickhouse-down ${JSON.stringify(figures)}`);
    expect(rankedDuringOutage).to.equal(true);
    expect(gap).to.be.below(2);
    // Ranks still flow, so the engine stays in service: 200 with ClickHouse named in `degraded`.
    expect(readyz.status).to.equal(200);
    expect(readyBody.checks?.clickhouse).to.equal('down');
    expect(JSON.stringify(readyBody.degraded)).to.match(/clickhouse/i);
    expect([result.lost, result.doubled]).to.deep.equal([0, 0]);
    expect([result.rows.final, result.rows.distinct]).to.deep.equal([total, total]);
  });

  it('5: the engine SIGKILLed while a ClickHouse batch is in flight — no row lost or doubled', async () => {
    world = await FaultWorld.open(nats.url, clickhouse.url);
    const engine = await world.start('live-engine', ENGINE_ENV);
    const feed = new Feed(world);
    await feed.begin();
    await feed.rounds(10);
    await waitFor(
      'first ratings in ClickHouse',
      async () =>
        (await world!.ratingCounts(feed.session.id)).final === feed.seq * USERS ? true : undefined,
      20_000,
    );

    clickhouse.freeze(); // inserts hang with their request in flight
    await feed.rounds(10);
    await waitFor(
      'the engine counted the batch it is inserting',
      () => (feed.allCounted() ? true : undefined),
      10_000,
    );
    await sleep(500);
    await engine.kill();
    clickhouse.thaw();
    await feed.rounds(10); // while no engine runs
    const restartAt = Date.now();
    await engine.start();
    await waitFor(
      'ranks from the restarted engine',
      () => (feed.allCounted() ? true : undefined),
      30_000,
      50,
    );
    const rankedAt = Date.now();
    const result = await feed.verify();
    const total = feed.seq * USERS;
    const figures = {
      ratings: total,
      ratingsLost: result.lost,
      ratingsDoubled: result.doubled,
      clickhouseRows: result.rows,
      physicalDuplicatesCollapsedByFinal: result.rows.physical - result.rows.final,
      secondsFromRestartToCurrentRanks: (rankedAt - restartAt) / 1000,
    };
    console.log(`FAULT-FIGURES engine-kill-mid-batch ${JSON.stringify(figures)}`);
    expect([result.lost, result.doubled]).to.deep.equal([0, 0]);
    expect([result.rows.final, result.rows.distinct]).to.deep.equal([total, total]);
  });
});
