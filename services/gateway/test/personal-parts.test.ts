import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { BEST_CURVE_MAX_MINUTES, ErrorCode, parseServerFrame, type RankSnapshot } from '@pulse/contracts';
import { BoardUnavailable } from '../src/errors.js';
import { PersonalParts } from '../src/personal-parts.js';
import {
  NatsWorld,
  TestClient,
  sessionSnapshot,
  signTicket,
  startGateway,
  type RunningGateway,
} from './harness.js';

const MINUTE_MS = 1_000;

/** Independent: the best's cumulative score at the end of elapsed minute `m`, or undefined when unknown. */
function expectedPace(curve: number[], score: number, complete: boolean, m: number): number | undefined {
  if (m < curve.length) return curve[m];
  return complete ? score : undefined;
}

describe('personal best pace and main board of a client’s rank frames (issue 16, pure)', () => {
  const startedAt = '2030-01-01T10:00:00.000Z';
  const t0 = Date.parse(startedAt);
  const best = { sid: randomUUID(), score: 40.5, curve: [10, 25.25, 25.25, 40.5], complete: true };

  it('reads the best’s cumulative score at every elapsed minute, and its final score after its end', () => {
    const parts = new PersonalParts(best, false, MINUTE_MS);
    for (let m = 0; m < 8; m++) {
      for (const offset of [0, 1, MINUTE_MS - 1]) {
        const part = parts.part('', startedAt, t0 + m * MINUTE_MS + offset);
        const frame = JSON.parse(`{${part.slice(1)}}`);
        expect(frame.best).to.deep.equal({
          sessionId: best.sid,
          score: 40.5,
          minute: m,
          atMinute: expectedPace(best.curve, best.score, true, m),
        });
      }
    }
    // Before the start (a clock a little behind): minute 0.
    expect(JSON.parse(`{${parts.part('', startedAt, t0 - 500).slice(1)}}`).best.minute).to.equal(0);
  });

  it('leaves the pace out past a curve cut at BEST_CURVE_MAX_MINUTES and when there is no curve', () => {
    const curve = Array.from({ length: BEST_CURVE_MAX_MINUTES }, (_, m) => m + 1);
    const cut = new PersonalParts({ sid: best.sid, score: 999, curve, complete: false }, false, MINUTE_MS);
    const at = (p: PersonalParts, m: number) =>
      JSON.parse(`{${p.part('', startedAt, t0 + m * MINUTE_MS).slice(1)}}`).best;
    expect(at(cut, BEST_CURVE_MAX_MINUTES - 1).atMinute).to.equal(BEST_CURVE_MAX_MINUTES);
    expect(at(cut, BEST_CURVE_MAX_MINUTES)).to.not.have.property('atMinute');
    const none = new PersonalParts({ sid: best.sid, score: 12 }, false, MINUTE_MS);
    expect(at(none, 0)).to.deep.equal({ sessionId: best.sid, score: 12, minute: 0 });
  });

  it('says which board is main once chosen, `all` when the chosen part is not in the frame', () => {
    const parts = new PersonalParts(undefined, true, MINUTE_MS);
    expect(parts.part(',"following":{}', startedAt, t0)).to.equal('');
    parts.choose('following');
    expect(parts.part(',"following":{}', startedAt, t0)).to.equal(',"main":"following"');
    expect(parts.part('', startedAt, t0)).to.equal(',"main":"all"');
    parts.choose('band');
    expect(parts.part('', startedAt, t0)).to.equal(',"main":"band"');
    const bandless = new PersonalParts(undefined, false, MINUTE_MS);
    expect(() => bandless.choose('band')).to.throw(BoardUnavailable);
    expect(bandless.mainBoard).to.equal(undefined);
  });
});

describe('personal best pace and main board over a real gateway (issue 16, real NATS)', () => {
  let world: NatsWorld;
  let gw: RunningGateway;
  const clients: TestClient[] = [];

  before(async () => {
    world = await NatsWorld.start();
    gw = await startGateway(world, { MINUTE_MS: String(MINUTE_MS) });
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  after(async () => {
    await gw.gateway.close();
    await world.stop();
  });

  function snapshot(sessionId: string, at: number, userIds: string[]) {
    const s: RankSnapshot = {
      sessionId,
      tick: at,
      at,
      participants: userIds.length,
      top: [],
      chunk: 0,
      chunks: 1,
      userIds,
      ranks: userIds.map((_, i) => i + 1),
      scores: userIds.map((_, i) => 100 - i),
      seqs: userIds.map(() => 1),
    };
    world.nc.publish(world.names.ranks(sessionId), JSON.stringify(s));
  }

  async function open(sessionId: string, userId: string, claims: Record<string, unknown>) {
    const client = TestClient.open(gw, signTicket({ sessionId, userId, claims }));
    clients.push(client);
    await client.next('welcome');
    return client;
  }

  it('adds the best’s pace at each elapsed minute since the start to every rank frame of that trainee', async () => {
    const startedAt = new Date(Date.now() - 10 * MINUTE_MS).toISOString();
    const session = sessionSnapshot('live', { startedAt });
    await world.publishEvent(session, 'started');
    const [ana, bo] = [randomUUID(), randomUUID()];
    const best = { sid: randomUUID(), score: 31, curve: [5, 12.5, 31], complete: true };
    const anaClient = await open(session.id, ana, { best });
    const boClient = await open(session.id, bo, {});
    const t0 = Date.parse(startedAt);
    for (let m = 0; m < 5; m++) {
      snapshot(session.id, t0 + m * MINUTE_MS + 300, [ana, bo]);
      const frame = await anaClient.next(
        (f) => f.type === 'rank' && (f.best as { minute: number }).minute === m,
      );
      const parsed = parseServerFrame(JSON.stringify(frame));
      expect(parsed.ok, JSON.stringify(frame)).to.equal(true);
      expect(frame.best).to.deep.equal({
        sessionId: best.sid,
        score: 31,
        minute: m,
        atMinute: expectedPace(best.curve, best.score, true, m),
      });
      const other = await boClient.next('rank');
      expect(other).to.not.have.property('best');
      expect(other).to.not.have.property('main');
    }
  });

  it('validates board choices with stable codes and marks the main board in the following frames', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    const [ana, bo] = [randomUUID(), randomUUID()];
    const anaClient = await open(session.id, ana, { band: '25-34' });
    const boClient = await open(session.id, bo, {});
    boClient.send({ type: 'board', main: 'band' });
    expect(await boClient.next('error')).to.include({ code: ErrorCode.BOARD_UNAVAILABLE });
    boClient.send({ type: 'board', main: 'friends' });
    expect(await boClient.next('error')).to.include({ code: ErrorCode.INVALID_MESSAGE });
    boClient.send({ type: 'board', main: 'all', extra: 1 });
    expect(await boClient.next('error')).to.include({ code: ErrorCode.INVALID_MESSAGE });
    boClient.send({ type: 'board', main: 'following' });
    anaClient.send({ type: 'board', main: 'band' });
    // A ping answered after the board frame: the choice is applied (frames are handled in order).
    anaClient.send({ type: 'ping' });
    boClient.send({ type: 'ping' });
    await Promise.all([anaClient.next('pong'), boClient.next('pong')]);
    snapshot(session.id, Date.now(), [ana, bo]);
    expect(await anaClient.next('rank')).to.include({ main: 'band' });
    // Bo follows nobody in the class: the following part is absent, so the main board is the whole class.
    expect(await boClient.next('rank')).to.include({ main: 'all' });
    // The choice belongs to the socket: a new socket has none until it sends it again.
    const again = await open(session.id, ana, { band: '25-34' });
    snapshot(session.id, Date.now(), [ana, bo]);
    expect(await again.next('rank')).to.not.have.property('main');
  });
});
