import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { pino } from 'pino';
import type { WebSocket } from 'ws';
import { natsNames, type JoinTicketClaims } from '@pulse/contracts';
import { Connection, type ConnectionDeps } from '../src/connection.js';
import { createMetrics } from '../src/metrics.js';

/** A socket stand-in: records what the connection sends; the test emits its 'close'. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CLOSING = 2;
  /** OPEN, or CLOSING once the peer half-closed (ws read its FIN) before the socket closed. */
  readyState = this.OPEN;
  readonly bufferedAmount = 0;
  readonly sent: string[] = [];
  send(frame: string): void {
    this.sent.push(frame);
  }
  close(): void {}
}

/**
 * One connection whose session subscription the test settles (`subscribed()`), with the follow sets and
 * the participant announcements it leaves behind counted. No servers.
 */
function connectionWithHeldSubscription() {
  const sessionId = randomUUID();
  let subscribed!: () => void;
  const tookOver = { count: 0 };
  const session = {
    sessionId,
    subscribed: new Promise<void>((resolve) => (subscribed = resolve)),
    presenceSettled: Promise.resolve(),
    view: { status: 'live', startsAt: new Date().toISOString(), startedAt: null },
    apply: () => undefined,
    participants: () => 1,
    takeOver: () => {
      tookOver.count++;
      return true;
    },
    synced: () => Promise.resolve(),
  };
  const follows = { tracked: 0 };
  const announced: string[] = [];
  const deps = {
    jsm: { streams: { getMessage: () => Promise.resolve(null) } },
    names: natsNames('connection-test'),
    publisher: { publish: (subject: string) => Promise.resolve(void announced.push(subject)) },
    batches: {},
    lastSeq: () => Promise.resolve({ lastSeq: 0, final: false }),
    sessions: {
      join: () => session,
      leave: () => undefined,
      deps: {
        follows: {
          track: () => Promise.resolve(void follows.tracked++),
          untrack: () => void follows.tracked--,
        },
      },
    },
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
    sendBufferLowBytes: 64 * 1024,
    sendBufferMaxBytes: 1024 * 1024,
    slowConsumerMs: 15_000,
    welcomeTimeoutMs: 10_000,
    minuteMs: 60_000,
  } as unknown as ConnectionDeps;
  const claims: JoinTicketClaims = {
    sub: randomUUID(),
    sid: sessionId,
    role: 'trainee',
    name: 'Ana',
    weightKg: 70,
    startsAt: session.view.startsAt,
  };
  const socket = new FakeSocket();
  const connection = new Connection(socket as unknown as WebSocket, claims, deps);
  return { connection, socket, subscribed, follows, announced, tookOver };
}

describe('Connection (one client’s socket, no servers)', () => {
  it('leaves a socket that closed while its session was being subscribed: no follow set kept, nothing announced', async () => {
    const { connection, socket, subscribed, follows, announced } = connectionWithHeldSubscription();
    const started = connection.start();
    socket.emit('close');
    subscribed();
    await started;
    expect(follows.tracked).to.equal(0);
    expect(announced).to.deep.equal([]);
    expect(socket.sent).to.deep.equal([]);
  });

  it('welcomes and announces nothing for a socket whose peer half-closed during its setup (a given-up attempt)', async () => {
    const { connection, socket, subscribed, announced, tookOver } = connectionWithHeldSubscription();
    const started = connection.start();
    socket.readyState = socket.CLOSING;
    subscribed();
    await started;
    expect(socket.sent).to.deep.equal([]);
    expect(connection.welcomed).to.equal(false);
    expect(announced).to.have.length(1); // the participant message
    expect(tookOver.count).to.equal(0);
  });

  it('gives back the follow set of a socket that closes after its welcome', async () => {
    const { connection, socket, subscribed, follows, announced, tookOver } = connectionWithHeldSubscription();
    const started = connection.start();
    subscribed();
    await started;
    expect(JSON.parse(socket.sent[0])).to.include({ type: 'welcome', state: 'live' });
    expect(follows.tracked).to.equal(1);
    expect(announced).to.have.length(1);
    expect(tookOver.count).to.equal(1);
    socket.emit('close');
    expect(follows.tracked).to.equal(0);
  });
});
