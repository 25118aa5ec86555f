import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { RankSnapshot } from '@pulse/contracts';
import {
  NatsWorld,
  TestClient,
  eventually,
  startGateway,
  sessionSnapshot,
  signTicket,
  type RunningGateway,
} from './harness.js';

/**
 * A well-behaved trainee of a live session: after whatever a hostile client did, its rating must still be
 * stored and come back ranked. The test stands in for the engine (none runs in gateway tests): once the rating
 * is in the ratings stream it publishes the rank snapshot an engine would.
 */
export class WellBehaved {
  private seq = 0;

  private constructor(
    private readonly world: NatsWorld,
    readonly sessionId: string,
    readonly userId: string,
    readonly client: TestClient,
  ) {}

  /** A new live session with this trainee welcomed in it on `gw`. */
  static async join(world: NatsWorld, gw: RunningGateway): Promise<WellBehaved> {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const userId = randomUUID();
    const client = TestClient.open(gw, signTicket({ sessionId: session.id, userId }));
    expect((await client.next('welcome')).state).to.equal('live');
    return new WellBehaved(world, session.id, userId, client);
  }

  /** A ticket of another trainee of the same session. */
  ticket(): string {
    return signTicket({ sessionId: this.sessionId });
  }

  /** Rates once more and expects that rating stored and then ranked in its own rank frame. */
  async rateAndRank(): Promise<void> {
    const seq = ++this.seq;
    this.client.send({ type: 'rating', seq, energy: 50 });
    await eventually(async () => {
      const stored = await this.world.storedRatings(this.sessionId, this.userId);
      return stored.some((r) => r.seq === seq) ? true : undefined;
    }, 10_000);
    const snapshot: RankSnapshot = {
      sessionId: this.sessionId,
      tick: seq,
      at: Date.now(),
      participants: 1,
      top: [{ rank: 1, userId: this.userId, name: 'Ana', score: 50 * seq }],
      chunk: 0,
      chunks: 1,
      userIds: [this.userId],
      ranks: [1],
      scores: [50 * seq],
      seqs: [seq],
    };
    this.world.nc.publish(this.world.names.ranks(this.sessionId), JSON.stringify(snapshot));
    const rank = await this.client.next((f) => f.type === 'rank' && f.seq === seq);
    expect(rank).to.include({ rank: 1, participants: 1, score: 50 * seq });
    expect(this.client.frames.filter((f) => f.type === 'error')).to.deep.equal([]);
  }

  close(): void {
    this.client.close();
  }
}

/**
 * The hooks of a hostile-client suite: a gateway and a well-behaved trainee of a live session on it, handed to
 * `started` before the tests; after each test `cleanups` run (the hostile sockets), after all the rest is closed.
 */
export function beside(
  cleanups: Array<() => void>,
  started: (suite: { world: NatsWorld; gw: RunningGateway; trainee: WellBehaved }) => void,
): void {
  let suite: { world: NatsWorld; gw: RunningGateway; trainee: WellBehaved } | undefined;
  before(async () => {
    const world = await NatsWorld.start();
    const gw = await startGateway(world);
    suite = { world, gw, trainee: await WellBehaved.join(world, gw) };
    started(suite);
  });
  afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));
  after(async () => {
    suite?.trainee.close();
    await suite?.gw.gateway.close();
    await suite?.world.stop();
  });
}
