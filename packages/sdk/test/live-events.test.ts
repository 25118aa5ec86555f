import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { LiveSession } from '../src/index.js';
import type { LiveEvents, WebSocketLike } from '../src/index.js';

/** A socket the test plays the gateway's side of: frames in with `frame`, drops with `drop`. */
class FakeSocket implements WebSocketLike {
  readyState = 1;
  readonly sent: string[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(code = 1000): void {
    this.drop(code);
  }
  frame(frame: object | string | Uint8Array): void {
    const data = typeof frame === 'object' && !(frame instanceof Uint8Array) ? JSON.stringify(frame) : frame;
    this.onmessage?.({ data });
  }
  drop(code: number): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

const SESSION_ID = '6f1d7c2e-8a4b-4c1d-9e2f-0a1b2c3d4e5f';
const welcome = (lastSeq: number) => ({
  type: 'welcome',
  state: 'live',
  sessionId: SESSION_ID,
  startsAt: '2026-11-29T17:00:00.000Z',
  participants: 1,
  lastSeq,
});
/** A rank frame: any frame proves a socket alive. */
const RANK = { type: 'rank', rank: 1, participants: 1, score: 0, top: [], at: '2026-11-29T17:00:00.000Z' };
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** A live session on fake sockets, with a ticket issued beforehand (no REST join). */
function fakeLive(pingIntervalMs?: number, staleMs?: number) {
  const sockets: FakeSocket[] = [];
  const joins: string[] = [];
  const live = new LiveSession(
    SESSION_ID,
    (id) => {
      joins.push(id);
      return Promise.resolve({ ticket: 'pre-issued.ticket', gatewayUrl: 'ws://gateway.test/v1/live' });
    },
    {
      webSocket: (url) => {
        const socket = new FakeSocket(url);
        sockets.push(socket);
        return socket;
      },
      backoff: { baseMs: 1, maxMs: 1 },
      resendDelayMs: 5,
      pingIntervalMs,
      staleMs,
    },
  );
  return { live, sockets, joins };
}

/** Every `sent` event as [seqs, resends]. */
function recordSent(live: LiveSession): Array<[number[], number]> {
  const out: Array<[number[], number]> = [];
  live.on('sent', ({ ratings, resends }: LiveEvents['sent']) =>
    out.push([ratings.map((r) => r.seq), resends]),
  );
  return out;
}

describe('LiveSession events on a scripted socket (issue 15)', () => {
  it('connects with a ticket issued beforehand', async () => {
    const { live, sockets, joins } = fakeLive();
    const welcomed = live.start();
    await tick();
    sockets[0].frame(welcome(0));
    expect((await welcomed).lastSeq).to.equal(0);
    expect(sockets[0].url).to.equal(
      `ws://gateway.test/v1/live?ticket=pre-issued.ticket&device=${live.deviceId}&attempt=1`,
    );
    expect(live.deviceId).to.match(/^[0-9a-f]{16}$/);
    expect(joins).to.deep.equal([SESSION_ID]);
    live.close();
  });

  it('names its device and counts its sockets in every upgrade, so a late earlier attempt replaces nothing', async () => {
    const { live, sockets } = fakeLive();
    const welcomed = live.start();
    await tick();
    sockets[0].drop(1006); // lost before its welcome
    await tick(10);
    sockets[1].frame(welcome(0));
    await welcomed;
    sockets[1].drop(1006);
    await tick(10);
    const attempts = sockets.map((s) => new URL(s.url).searchParams);
    expect(attempts.map((q) => q.get('attempt'))).to.deep.equal(['1', '2', '3']);
    expect(new Set(attempts.map((q) => q.get('device')))).to.deep.equal(new Set([live.deviceId]));
    expect(fakeLive().live.deviceId).to.not.equal(live.deviceId);
    live.close();
  });

  it('refuses a reading the gateway would refuse, keeping nothing to resend', async () => {
    const { live, sockets } = fakeLive();
    const welcomed = live.start();
    await tick();
    sockets[0].frame(welcome(0));
    await welcomed;
    for (const energy of [Number.NaN, Infinity, -1, 100.5]) {
      expect(() => live.rate(energy), String(energy)).to.throw(RangeError, /energy must be a finite number/);
    }
    expect(live.rate(0).seq).to.equal(1);
    expect(live.rate(100).seq).to.equal(2);
    expect(
      sockets[0].sent.map((f) => JSON.parse(f) as { energy: number }).map((f) => f.energy),
    ).to.deep.equal([0, 100]);
    live.close();
  });

  it('reports each rating written to the socket, telling first sends from resends', async () => {
    const { live, sockets } = fakeLive();
    const sent = recordSent(live);
    const welcomed = live.start();
    await tick();
    sockets[0].frame(welcome(0));
    await welcomed;
    live.rate(50);
    expect(live.lastSentSeq).to.equal(1); // written by rate() itself
    live.rate(60);
    sockets[0].frame({ type: 'error', code: 'RATE_LIMITED', message: 'slow down', seq: 2, resendFrom: 1 });
    await tick(20);
    sockets[0].drop(1006);
    const kept = live.rate(70); // recorded while reconnecting: its first send is the resume after the next welcome
    expect(live.lastSentSeq).to.be.below(kept.seq);
    await tick(10);
    sockets[1].frame(welcome(1));
    expect(live.lastSentSeq).to.equal(kept.seq);
    live.rate(80);
    expect(live.lastSentSeq).to.equal(4);
    expect(live.resent).to.equal(3); // 1 and 2 after RATE_LIMITED, 2 on the resume
    expect(sent).to.deep.equal([
      [[1], 0],
      [[2], 0],
      [[1, 2], 2],
      [[2, 3], 1],
      [[4], 0],
    ]);
    expect(sockets[1].sent).to.deep.equal([
      '{"type":"rating","seq":2,"energy":60}',
      '{"type":"rating","seq":3,"energy":70}',
      '{"type":"rating","seq":4,"energy":80}',
    ]);
    live.close();
  });

  it('writes rating frames byte for byte as JSON.stringify does', async () => {
    const { live, sockets } = fakeLive();
    const welcomed = live.start();
    await tick();
    sockets[0].frame(welcome(0));
    await welcomed;
    const energies = [0, 100, 72.5, 1e-7, 33.333333333333336];
    for (const energy of energies) live.rate(energy);
    expect(sockets[0].sent).to.deep.equal(
      energies.map((energy, i) => JSON.stringify({ type: 'rating', seq: i + 1, energy })),
    );
    live.close();
  });

  it('pings only a socket that read no frame since the last beat', async () => {
    const { live, sockets } = fakeLive(200);
    const welcomed = live.start();
    await tick();
    sockets[0].frame(welcome(0));
    await welcomed;
    const socket = sockets[0];
    for (let i = 0; i < 60; i++) {
      socket.frame(RANK); // a frame every 10 ms: ranks prove the socket alive
      await tick(10);
    }
    expect(socket.sent.filter((f) => f === '{"type":"ping"}')).to.have.length(0);
    await tick(700); // quiet: a ping on every beat
    expect(socket.sent.filter((f) => f === '{"type":"ping"}').length).to.be.at.least(2);
    live.close();
  });

  it('gives up a socket that delivers no frame for staleMs, at the first beat after it, and reconnects', async () => {
    const { live, sockets } = fakeLive(40, 150);
    const states: Array<[string, number | undefined]> = [];
    live.on('state', ({ state, closeCode }) => states.push([state, closeCode]));
    const welcomed = live.start();
    await tick();
    sockets[0].frame(welcome(0));
    await welcomed;
    for (let i = 0; i < 30; i++) {
      sockets[0].frame(RANK); // 300 ms of frames every 10 ms: twice staleMs, alive all along
      await tick(10);
    }
    expect(sockets).to.have.length(1);
    const lastFrameAt = Date.now();
    sockets[0].frame(RANK);
    while (sockets.length === 1 && Date.now() - lastFrameAt < 2_000) await tick(5);
    const gaveUpAfter = Date.now() - lastFrameAt;
    expect(sockets, 'a second socket').to.have.length(2);
    expect(gaveUpAfter).to.be.at.least(150); // never before staleMs of silence
    expect(states).to.deep.include(['reconnecting', 1006]);
    live.close();
  });

  it('reports frames it cannot read and stays live', async () => {
    const { live, sockets } = fakeLive();
    const unreadable: string[] = [];
    live.on('unreadable', ({ reason }) => unreadable.push(reason));
    const welcomed = live.start();
    await tick();
    sockets[0].frame(welcome(0));
    await welcomed;
    sockets[0].frame(new Uint8Array([123, 125]));
    sockets[0].frame('{"type":');
    sockets[0].frame({ type: 'confetti' });
    expect(unreadable).to.deep.equal(['binary frame', 'not JSON', 'unknown frame type']);
    expect(live.state).to.equal('live');
    live.close();
  });

  it('stays closed when a disconnect listener closes it (no reconnect after the end state)', async () => {
    const { live, sockets } = fakeLive();
    const states: string[] = [];
    live.on('state', ({ state }) => states.push(state));
    live.on('disconnect', () => live.close());
    void live.start().catch(() => undefined);
    await tick();
    sockets[0].drop(1006);
    await tick(20);
    expect(live.state).to.equal('closed');
    expect((await live.done).state).to.equal('closed');
    expect(states).to.deep.equal(['connecting', 'closed']);
    expect(sockets).to.have.length(1);
  });

  it("reads frames from ws's own message event on Node, without the DOM MessageEvent", async () => {
    /** What `ws` is on Node: an EventEmitter whose `message` event gives a Buffer and whether it is binary. */
    class NodeStyleSocket extends EventEmitter implements WebSocketLike {
      readyState = 1;
      binaryType = 'nodebuffer';
      readonly sent: string[] = [];
      onopen: ((event: unknown) => void) | null = null;
      onmessage: ((event: { data: unknown }) => void) | null = null;
      onclose: ((event: { code: number; reason: string }) => void) | null = null;
      onerror: ((event: unknown) => void) | null = null;
      send(data: string): void {
        this.sent.push(data);
      }
      close(): void {
        this.readyState = 3;
        this.onclose?.({ code: 1000, reason: '' });
      }
    }
    const sockets: NodeStyleSocket[] = [];
    const live = new LiveSession(
      SESSION_ID,
      () => Promise.resolve({ ticket: 't', gatewayUrl: 'ws://gateway.test/v1/live' }),
      { webSocket: () => sockets[sockets.push(new NodeStyleSocket()) - 1] },
    );
    const unreadable: string[] = [];
    live.on('unreadable', ({ reason }) => unreadable.push(reason));
    const welcomed = live.start();
    await tick();
    const socket = sockets[0];
    expect(socket.onmessage).to.equal(null);
    socket.emit('message', Buffer.from(JSON.stringify(welcome(0))), false);
    expect((await welcomed).lastSeq).to.equal(0);
    live.rate(50);
    const rank = { type: 'rank', sessionId: SESSION_ID, rank: 1, of: 1, score: 50, seq: 1, top: [] };
    socket.emit('message', Buffer.from(JSON.stringify(rank)), false);
    expect(live.rank?.score).to.equal(50);
    expect(live.outbox.size).to.equal(0);
    socket.emit('message', Buffer.from('{"type":"rank"}'), true);
    expect(unreadable).to.deep.equal(['binary frame']);
    live.close();
  });
});
