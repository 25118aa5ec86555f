import { expect } from 'chai';
import { waitFor } from '@pulse/benchmarks';
import type { LocalStack } from '@pulse/benchmarks';
import { ageBandOf } from '@pulse/contracts';
import { CloseCode } from '../src/index.js';
import type { LiveSession, LiveState, PulseClient, Session } from '../src/index.js';
import {
  SocketLog,
  account,
  allConfirmed,
  liveOptions,
  newSession,
  next,
  startStack,
} from './support/stack.js';

interface Rider {
  client: PulseClient;
  live: LiveSession;
  sockets: SocketLog;
  states: LiveState[];
  sent: number;
  name: string;
}

/** Polls the results as the trainer until they are final. */
async function finalResults(trainer: PulseClient, sessionId: string) {
  return waitFor(
    'final results',
    async () => {
      const results = await trainer.results(sessionId, { limit: 100 });
      return results.final ? results : undefined;
    },
    30_000,
    250,
  );
}

describe('LiveSession against the real stack', function () {
  this.timeout(120_000);
  let stack: LocalStack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  async function rider(session: Session, name: string): Promise<Rider> {
    const client = await account(stack, 'trainee', name);
    await client.register(session.id);
    const sockets = new SocketLog();
    const live = client.live(session.id, liveOptions(sockets));
    const states: LiveState[] = [];
    live.on('state', ({ state }) => states.push(state));
    return { client, live, sockets, states, sent: 0, name };
  }

  function rate(r: Rider, energies: number[]): void {
    for (const energy of energies) {
      r.live.rate(energy);
      r.sent += energy;
    }
  }

  /** Streams `count` readings at `intervalMs`, like a device. */
  async function stream(
    r: Rider,
    count: number,
    energy: (i: number) => number,
    intervalMs = 50,
  ): Promise<void> {
    for (let i = 0; i < count; i++) {
      rate(r, [energy(i)]);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  it('runs a whole class: waiting room, start, ranks, end, and results equal to what each device sent', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Class');
    const session = await newSession(trainer, 'SDK class');
    const riders = await Promise.all(['Ada', 'Bo', 'Cy'].map((n) => rider(session, n)));
    const welcomes = await Promise.all(riders.map((r) => r.live.start()));
    expect(welcomes.map((w) => w.state)).to.deep.equal(['waiting', 'waiting', 'waiting']);
    expect(riders.map((r) => r.live.state)).to.deep.equal(['waiting', 'waiting', 'waiting']);
    rate(riders[0], [5]); // kept in the outbox until the class is live
    const started = riders.map((r) => new Promise((resolve) => r.live.on('started', resolve)));
    await trainer.startSession(session.id);
    await Promise.all(started);
    await Promise.all(riders.map((r, k) => stream(r, 15, (i) => 10 * (k + 1) + i)));
    await Promise.all(riders.map((r) => allConfirmed(r.live)));
    const ranks = riders.map((r) => r.live.rank!);
    expect(ranks.map((rank) => rank.score)).to.deep.equal(riders.map((r) => r.sent));
    expect(ranks.map((rank) => rank.rank)).to.deep.equal([3, 2, 1]);
    const ended = riders.map((r) => r.live.done);
    await trainer.endSession(session.id);
    const ends = await Promise.all(ended);
    for (const end of ends) {
      expect(end).to.deep.include({ state: 'ended', closeCode: CloseCode.SESSION_CLOSED, notTaken: [] });
      expect(end.resultsPath).to.equal(`/v1/sessions/${session.id}/results`);
    }
    expect(ends.map((end) => end.lastSeq)).to.deep.equal([16, 15, 15]);
    expect(riders[0].states).to.deep.equal(['connecting', 'waiting', 'live', 'ended']);
    const results = await finalResults(trainer, session.id);
    const scores = Object.fromEntries(results.leaderboard.items.map((i) => [i.name, i.score]));
    expect(scores).to.deep.equal(Object.fromEntries(riders.map((r) => [r.name, r.sent])));
    const mine = await riders[2].client.results(session.id);
    expect(mine.me).to.deep.include({ rank: 1, score: riders[2].sent });
  });

  it('ends a class while ratings are in flight: every seq up to ended.lastSeq counts, the rest are reported', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Abrupt');
    const session = await newSession(trainer, 'SDK abrupt end');
    const r = await rider(session, 'Eve');
    await r.live.start();
    await trainer.startSession(session.id);
    await waitFor('live', async () => (r.live.state === 'live' ? true : undefined), 10_000, 20);
    const energies: number[] = [];
    let streaming = true;
    const device = (async () => {
      for (let i = 0; streaming && r.live.state === 'live'; i++) {
        const energy = 10 + (i % 50);
        energies.push(energy);
        r.live.rate(energy);
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 600));
    await trainer.endSession(session.id); // no waiting for the last ratings to be ranked
    const end = await r.live.done;
    streaming = false;
    await device;
    expect(end.state).to.equal('ended');
    expect(end.lastSeq).to.be.a('number');
    const counted = energies.slice(0, end.lastSeq).reduce((a, b) => a + b, 0);
    expect(end.notTaken!.map((p) => p.seq)).to.deep.equal(
      energies.slice(end.lastSeq).map((_, i) => end.lastSeq! + i + 1),
    );
    const results = await finalResults(trainer, session.id);
    expect(results.leaderboard.items.map((i) => i.score)).to.deep.equal([counted]);
  });

  it('tells a device whose gateway went down at the end its last counted seq when it comes back', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Outage');
    const session = await newSession(trainer, 'SDK end during an outage');
    const r = await rider(session, 'Fay');
    await r.live.start();
    await trainer.startSession(session.id);
    await waitFor('live', async () => (r.live.state === 'live' ? true : undefined), 10_000, 20);
    await stream(r, 8, (i) => 30 + i);
    await allConfirmed(r.live);
    const counted = r.sent;
    await stack.stop('gateway-1');
    rate(r, [91, 92]); // into the outbox: no gateway takes them before the end
    await trainer.endSession(session.id);
    const results = await finalResults(trainer, session.id);
    expect(results.leaderboard.items.map((i) => i.score)).to.deep.equal([counted]);
    await stack.restart('gateway-1');
    const end = await r.live.done;
    expect(end).to.deep.include({ state: 'ended', lastSeq: 8 });
    expect(end.notTaken!.map((p) => [p.seq, p.energy])).to.deep.equal([
      [9, 91],
      [10, 92],
    ]);
  });

  it('carries the age-band board of the trainees who opted in, and of no one else (issue 16)', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Bands');
    const session = await newSession(trainer, 'SDK bands');
    const riders = await Promise.all(['Gus', 'Hal', 'Ivy'].map((n) => rider(session, n)));
    const year = new Date(session.startsAt).getUTCFullYear();
    await riders[0].client.updateProfile({ birthYear: year - 40, showOnBoards: true }); // both 35-44
    await riders[1].client.updateProfile({ birthYear: year - 41, showOnBoards: true });
    await riders[2].client.updateProfile({ birthYear: year - 40 }); // not opted in
    await Promise.all(riders.map((r) => r.live.start()));
    await trainer.startSession(session.id);
    await Promise.all(
      riders.map((r) =>
        waitFor('live', async () => (r.live.state === 'live' ? true : undefined), 10_000, 20),
      ),
    );
    await Promise.all(riders.map((r, k) => stream(r, 5, (i) => 10 * (k + 1) + i)));
    await Promise.all(riders.map((r) => allConfirmed(r.live)));
    const [gus, hal, ivy] = riders.map((r) => r.live.rank!);
    expect(ivy.band).to.equal(undefined);
    expect(hal.band).to.deep.include({ id: ageBandOf(year - 40, year), rank: 1, participants: 2 });
    expect(gus.band).to.deep.include({ id: ageBandOf(year - 40, year), rank: 2, participants: 2 });
    expect(gus.band!.top.map((t) => [t.name, t.score])).to.deep.equal([
      ['Hal', riders[1].sent],
      ['Gus', riders[0].sent],
    ]);
    await trainer.endSession(session.id);
    await Promise.all(riders.map((r) => r.live.done));
  });

  it('ranks a trainee among the people they follow, from the frame after the follow (issue 16)', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Friends');
    const session = await newSession(trainer, 'SDK following');
    const riders = await Promise.all(['Jo', 'Kim', 'Lu', 'Max'].map((n) => rider(session, n)));
    await Promise.all(riders.map((r) => r.live.start()));
    await trainer.startSession(session.id);
    await Promise.all(
      riders.map((r) =>
        waitFor('live', async () => (r.live.state === 'live' ? true : undefined), 10_000, 20),
      ),
    );
    await Promise.all(riders.map((r, k) => stream(r, 3, (i) => 10 * (k + 1) + i)));
    await Promise.all(riders.map((r) => allConfirmed(r.live)));
    const [jo, kim, lu, max] = riders;
    expect(jo.live.rank!.following).to.equal(undefined); // follows no one yet
    // Jo follows Kim and Lu mid-class: the next frames rank Jo among the three.
    const ids = await Promise.all(riders.map(async (r) => (await r.client.me()).id));
    await jo.client.follow(ids[1]);
    await jo.client.follow(ids[2]);
    const board = await waitFor(
      'a following board',
      async () => {
        rate(jo, [1]); // a new rating brings a new frame
        await allConfirmed(jo.live);
        const f = jo.live.rank!.following;
        return f?.participants === 3 ? f : undefined;
      },
      20_000,
      200,
    );
    // Independent: the three by the scores each device sent (Lu > Kim > Jo).
    expect(board.rank).to.equal(3);
    expect(board.top.map((t) => [t.rank, t.name, t.score])).to.deep.equal([
      [1, 'Lu', lu.sent],
      [2, 'Kim', kim.sent],
      [3, 'Jo', jo.sent],
    ]);
    expect(max.live.rank!.following).to.equal(undefined);
    await trainer.endSession(session.id);
    await Promise.all(riders.map((r) => r.live.done));
  });

  it('carries the personal best of the type and keeps the chosen main board across a reconnect (issue 16)', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Best');
    const first = await newSession(trainer, 'SDK best 1');
    const nia = await rider(first, 'Nia');
    const year = new Date(first.startsAt).getUTCFullYear();
    await nia.client.updateProfile({ birthYear: year - 33, showOnBoards: true });
    await nia.live.start();
    await trainer.startSession(first.id);
    await waitFor('live', async () => (nia.live.state === 'live' ? true : undefined), 10_000, 20);
    expect(nia.live.rank?.best).to.equal(undefined);
    await stream(nia, 5, (i) => 30 + i);
    await allConfirmed(nia.live);
    expect(nia.live.rank!.best).to.equal(undefined); // no finished class of the type yet
    await trainer.endSession(first.id);
    await nia.live.done;
    const firstScore = nia.sent;
    const firstResults = await finalResults(trainer, first.id);
    expect(firstResults.leaderboard.items.map((i) => i.score)).to.deep.equal([firstScore]);
    const mine = await nia.client.results(first.id);
    expect(mine.me).to.deep.include({ personalBest: true, following: null });
    expect(mine.me!.band).to.deep.equal({ id: ageBandOf(year - 33, year), rank: 1, participants: 1 });

    const second = await newSession(trainer, 'SDK best 2');
    await nia.client.register(second.id);
    const sockets = new SocketLog();
    const live = nia.client.live(second.id, liveOptions(sockets));
    live.setMainBoard('band'); // before the start: sent after the welcome
    const oli = await rider(second, 'Oli'); // no age band: `band` is refused
    await Promise.all([live.start(), oli.live.start()]);
    const refused = new Promise<string>((resolve) => oli.live.on('error', (e) => resolve(e.code)));
    oli.live.setMainBoard('band');
    expect(await refused).to.equal('BOARD_UNAVAILABLE');
    expect(oli.live.mainBoard).to.equal(undefined);
    await trainer.startSession(second.id);
    await waitFor('live', async () => (live.state === 'live' ? true : undefined), 10_000, 20);
    live.rate(1);
    oli.live.rate(2);
    const withMain = await waitFor(
      'a rank frame with the main board and the best',
      async () => (live.rank?.main === 'band' && live.rank.best !== undefined ? live.rank : undefined),
      10_000,
      20,
    );
    expect(withMain.best).to.deep.include({ sessionId: first.id, score: firstScore });
    expect(withMain.band).to.deep.include({ rank: 1, participants: 1 });
    // Cut the socket: the SDK reconnects and chooses the board again on the new socket.
    const cut = next(live, 'state', (s) => s.state === 'reconnecting');
    sockets.current.terminate();
    await cut;
    await next(live, 'state', (s) => s.state === 'live');
    const frames: Array<NonNullable<LiveSession['rank']>> = [];
    live.on('rank', (frame) => frames.push(frame));
    live.rate(3);
    await waitFor('two rank frames after the reconnect', async () => (frames.length >= 2 ? true : undefined));
    expect(frames.at(-1)!.main).to.equal('band');
    expect(sockets.sockets.length).to.equal(2);
    // Past the best's last minute its pace is its final score (minutes of 2 s here; the best took under 2).
    const late = await waitFor(
      'a frame in minute 2 or later',
      async () => (frames.length > 0 && frames.at(-1)!.best!.minute >= 2 ? frames.at(-1) : undefined),
      15_000,
      50,
    );
    expect(late!.best).to.deep.equal({
      sessionId: first.id,
      score: firstScore,
      minute: late!.best!.minute,
      atMinute: firstScore,
    });
    expect(oli.live.rank?.best).to.equal(undefined);
    expect(oli.live.rank?.main).to.equal(undefined);
    await trainer.endSession(second.id);
    await live.done;
  });

  it('keeps an exact score across a socket cut mid-stream and a gateway restart', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Faults');
    const session = await newSession(trainer, 'SDK faults');
    const r = await rider(session, 'Dee');
    await r.live.start();
    await trainer.startSession(session.id);
    await waitFor('live', async () => (r.live.state === 'live' ? true : undefined), 10_000, 20);
    await stream(r, 10, (i) => 20 + i);

    // A lost network: the socket dies under the device, which goes on rating into its outbox.
    const cut = next(r.live, 'state', (s) => s.state === 'reconnecting');
    r.sockets.current.terminate();
    await cut;
    rate(r, [61, 62, 63]);
    await next(r.live, 'state', (s) => s.state === 'live');
    await stream(r, 10, (i) => 40 + i);
    await allConfirmed(r.live);
    expect(r.live.rank!.score).to.equal(r.sent);

    // The gateway restarts (1012 to its sockets), on the same port, after the ticket expired.
    const closes: number[] = [];
    r.live.on('disconnect', (d) => closes.push(d.closeCode));
    await stack.stop('gateway-1');
    rate(r, [71, 72, 73, 74]);
    await new Promise((resolve) => setTimeout(resolve, 4_500)); // outlive JOIN_TICKET_TTL_SEC
    await stack.restart('gateway-1');
    await next(r.live, 'state', (s) => s.state === 'live', 60_000);
    await stream(r, 5, (i) => 80 + i);
    await allConfirmed(r.live);
    expect(closes).to.include(CloseCode.RECONNECT);
    expect(closes).to.include(CloseCode.UNAUTHORIZED);
    expect(r.sockets.sockets.length).to.be.greaterThanOrEqual(4);
    expect(r.live.rank!.score).to.equal(r.sent);

    await trainer.endSession(session.id);
    expect((await r.live.done).state).to.equal('ended');
    const results = await finalResults(trainer, session.id);
    expect(results.leaderboard.items.map((i) => i.score)).to.deep.equal([r.sent]);
  });

  it('resends from error.resendFrom after RATE_LIMITED until every rating of a burst is counted', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Burst');
    const session = await newSession(trainer, 'SDK burst');
    const r = await rider(session, 'Flo');
    await r.live.start();
    await trainer.startSession(session.id);
    await waitFor('live', async () => (r.live.state === 'live' ? true : undefined), 10_000, 20);
    const limited: number[] = [];
    r.live.on('error', (e) => e.code === 'RATE_LIMITED' && limited.push(e.resendFrom!));
    rate(
      r,
      Array.from({ length: 40 }, (_, i) => 30 + i),
    );
    await allConfirmed(r.live);
    expect(limited.length).to.be.greaterThan(0);
    expect(Math.min(...limited)).to.equal(21);
    expect(r.live.rank!.score).to.equal(r.sent);
    r.live.close();
    expect(await r.live.done).to.deep.equal({ state: 'closed' });
  });

  it('fails instead of reconnecting when the gateway closes for the client’s own broken frames (1002, 1009)', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Faults');
    const session = await newSession(trainer, 'SDK client faults');
    const framing = await rider(session, 'Fay');
    await framing.live.start();
    // A frame with a reserved opcode, written under ws: the gateway closes 1002 (RFC 6455 §5.2).
    (framing.sockets.current as unknown as { _socket: { write(b: Buffer): void } })._socket.write(
      Buffer.from([0x83, 0x80, 0, 0, 0, 0]),
    );
    expect(await framing.live.done).to.deep.equal({ state: 'failed', closeCode: CloseCode.PROTOCOL_ERROR });
    const size = await rider(session, 'Gus');
    await size.live.start();
    size.sockets.current.send('x'.repeat(70_000));
    expect(await size.live.done).to.deep.equal({ state: 'failed', closeCode: CloseCode.MESSAGE_TOO_BIG });
    for (const r of [framing, size]) expect(r.states).to.not.include('reconnecting');
  });

  it('stops with `replaced` on 4409 and with `cancelled` when the trainer cancels', async () => {
    const trainer = await account(stack, 'trainer', 'Coach Ends');
    const session = await newSession(trainer, 'SDK ends');
    const first = await rider(session, 'Eve');
    await first.live.start();
    const second = first.client.live(session.id, liveOptions());
    await second.start();
    expect(await first.live.done).to.deep.equal({ state: 'replaced', closeCode: CloseCode.REPLACED });
    await trainer.cancelSession(session.id);
    expect(await second.done).to.deep.include({ state: 'cancelled', closeCode: CloseCode.SESSION_CLOSED });
    expect(() => second.rate(50)).to.throw(/cancelled/);
  });
});
