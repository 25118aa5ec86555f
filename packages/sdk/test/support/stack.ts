import { randomUUID } from 'node:crypto';
import { LocalStack, waitFor } from '@pulse/benchmarks';
import WebSocket from 'ws';
import { PulseClient } from '../../src/index.js';
import type { LiveOptions, LiveSession, Session, WebSocketLike } from '../../src/index.js';

/** A whole stack on free ports (api, one gateway, one engine) with short minutes and tickets, for the SDK. */
export const startStack = (): Promise<LocalStack> =>
  LocalStack.start({
    gateways: 1,
    engines: 1,
    env: {
      'live-engine': { MINUTE_MS: '2000', RANK_TICK_MS: '100', RESULTS_FLUSH_MS: '500' },
      // A small door bucket, so a burst gets RATE_LIMITED with resendFrom well within the score allowance.
      // MINUTE_MS as the engine's: the gateway reads personal bests' curves in its minutes (issue 16).
      gateway: { MINUTE_MS: '2000', RATING_RATE_PER_SEC: '10', RATING_BURST: '20' },
      // Tickets expire quickly, so reconnects after a gateway restart exercise the 4401 renewal too.
      // Limits apply to loopback too, so a test can meet a 429 with Retry-After.
      api: { JOIN_TICKET_TTL_SEC: '4', ADDRESS_LIMIT_EXEMPT: '', LOGIN_MAX_PER_ACCOUNT: '3' },
    },
  });

export const PASSWORD = 'correct horse battery';

/** Signs a new account up through the SDK. */
export async function account(
  stack: LocalStack,
  role: 'trainer' | 'trainee',
  name: string,
): Promise<PulseClient> {
  const client = new PulseClient({ baseUrl: stack.apiUrl });
  await client.signUp({ email: `${role}-${randomUUID()}@sdk.pulse.test`, password: PASSWORD, name, role });
  return client;
}

/** A session starting in a minute, created by `trainer`. */
export const newSession = (trainer: PulseClient, title: string): Promise<Session> =>
  trainer.createSession({
    title,
    type: 'hiit',
    startsAt: new Date(Date.now() + 60_000).toISOString(),
    durationMinutes: 30,
    capacity: 50,
  });

/** The sockets a live session opened, so a test can cut the current one like a lost network. */
export class SocketLog {
  readonly sockets: WebSocket[] = [];
  readonly factory = (url: string): WebSocketLike => {
    const socket = new WebSocket(url);
    this.sockets.push(socket);
    return socket as unknown as WebSocketLike;
  };
  get current(): WebSocket {
    return this.sockets[this.sockets.length - 1];
  }
}

/** Live options for tests: `ws` sockets, quick reconnects. */
export const liveOptions = (log = new SocketLog()): LiveOptions => ({
  webSocket: log.factory,
  backoff: { baseMs: 100, maxMs: 1_000 },
});

/** Resolves when `live` has had every rating confirmed by a rank frame. */
export const allConfirmed = (live: LiveSession, timeoutMs = 30_000): Promise<void> =>
  waitFor(
    'every rating confirmed',
    async () => (live.outbox.unconfirmed.length === 0 && live.rank !== undefined ? true : undefined),
    timeoutMs,
    50,
  ).then(() => undefined);

/** Resolves on the next event of `type` that `accept` takes. */
export function next<T>(
  live: LiveSession,
  type: 'state',
  accept: (value: { state: string; closeCode?: number }) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${type}`)), timeoutMs);
    const off = live.on(type, (value) => {
      if (!accept(value)) return;
      clearTimeout(timer);
      off();
      resolve(value as T);
    });
  });
}
