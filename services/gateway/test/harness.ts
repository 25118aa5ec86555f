import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { jetstream, jetstreamManager, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import jwt from 'jsonwebtoken';
import { pino, type Logger } from 'pino';
import { WebSocket } from 'ws';
import {
  JOIN_TICKET,
  LIVE_PATH,
  LastSeqRequest,
  RATING_BATCH_TOKEN,
  decodeRatingBatch,
  natsNames,
  type RatingMessage,
  type NatsNames,
  type SessionEventType,
  type SessionSnapshot,
  type SessionStatus,
} from '@pulse/contracts';
import { buildGateway, type Gateway } from '../src/app.js';
import { DEV_JOIN_TICKET_SECRET } from '@pulse/runtime';
import { loadConfig } from '../src/config.js';
import { DEFAULT_STREAM_SETTINGS, ensureFollowsBucket, ensureStreams } from '@pulse/runtime';

export const SECRET = DEV_JOIN_TICKET_SECRET;

/** One test's NATS world: its own namespace and streams, deleted by `stop()`. */
export class NatsWorld {
  readonly names: NatsNames;
  /** Sessions whose lastSeq answers say `final` (their results are frozen, as an engine would say). */
  readonly frozen = new Set<string>();
  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    namespace: string,
  ) {
    this.names = natsNames(namespace);
  }

  /** `engine: false`: nobody answers lastSeq requests (as during an engine failover). */
  static async start({ engine = true } = {}): Promise<NatsWorld> {
    const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
    const jsm = await jetstreamManager(nc);
    const world = new NatsWorld(nc, jsm, `t${randomUUID().slice(0, 8)}`);
    await ensureStreams(jsm, world.names, DEFAULT_STREAM_SETTINGS);
    await ensureFollowsBucket(jsm, world.names, DEFAULT_STREAM_SETTINGS);
    if (engine) world.answerLastSeq();
    return world;
  }

  /**
   * Stands in for the engines' lastSeq answers (no engine runs in these tests): the highest seq of the user
   * stored in the ratings stream, i.e. what an engine that consumed everything would answer.
   */
  private answerLastSeq(): void {
    this.nc.subscribe(this.names.allLastSeqRequests, {
      callback: (_err, msg) => {
        const { sessionId, userId } = LastSeqRequest.parse(msg.json());
        void this.storedRatings(sessionId, userId).then((stored) =>
          msg.respond(
            JSON.stringify({
              lastSeq: Math.max(0, ...stored.map((r) => r.seq)),
              ...(this.frozen.has(sessionId) ? { final: true } : {}),
            }),
          ),
        );
      },
    });
  }

  /** The stored batch messages of one partition, from every gateway, oldest first. */
  batchMessages(partition: number): Promise<StoredMsg[]> {
    return this.storedOn(this.names.partitionRatings(partition).replace(/>$/, `${RATING_BATCH_TOKEN}.*`));
  }

  /** Every stored rating of one user in one session, oldest first, with the id of the batch message. */
  async storedRatings(sessionId: string, userId: string): Promise<Array<RatingMessage & { msgId: string }>> {
    const out: Array<RatingMessage & { msgId: string }> = [];
    for (const msg of await this.storedOn(this.names.allRatings)) {
      if (msg.subject.split('.')[3] !== RATING_BATCH_TOKEN) continue;
      const batch = decodeRatingBatch(msg.string());
      if (!batch.ok) throw new Error(`malformed batch on ${msg.subject}: ${batch.error}`);
      for (const r of batch.sessions.get(sessionId) ?? []) {
        if (r.userId === userId) out.push({ ...r, msgId: msg.header.get('Nats-Msg-Id') });
      }
    }
    return out;
  }

  async recreateStreams(): Promise<void> {
    await ensureStreams(this.jsm, this.names, DEFAULT_STREAM_SETTINGS);
  }

  async stop(): Promise<void> {
    await this.jsm.streams.delete(this.names.ratingsStream).catch(() => undefined);
    await this.jsm.streams.delete(this.names.eventsStream).catch(() => undefined);
    await this.jsm.streams.delete(`KV_${this.names.followsBucket}`).catch(() => undefined);
    await this.nc.close();
  }

  /** Publishes a lifecycle event into the events stream, as the API does after its commit. */
  async publishEvent(session: SessionSnapshot, type: SessionEventType): Promise<void> {
    const event = { eventId: randomUUID(), type, at: new Date().toISOString(), session };
    await jetstream(this.nc).publish(this.names.sessionEvent(session.id), JSON.stringify(event));
  }

  /** Every stored message on one subject (wildcards allowed), oldest first. */
  async storedOn(subject: string): Promise<StoredMsg[]> {
    const info = await this.jsm.streams.info(this.names.ratingsStream, { subjects_filter: subject });
    const out: StoredMsg[] = [];
    const pattern = new RegExp(
      `^${subject.replace(/\./g, '\\.').replace(/\*/g, '[^.]+').replace(/>$/, '.+')}$`,
    );
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const msg = await this.jsm.streams.getMessage(this.names.ratingsStream, { seq }).catch(() => null);
      if (msg !== null && pattern.test(msg.subject)) out.push(msg);
    }
    return out;
  }
}

export function sessionSnapshot(
  status: SessionStatus,
  overrides: Partial<SessionSnapshot> = {},
): SessionSnapshot {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    trainerId: randomUUID(),
    title: 'HIIT',
    type: 'hiit',
    status,
    startsAt: new Date(Date.now() + 60_000).toISOString(),
    durationMinutes: 30,
    capacity: 100,
    startedAt: status === 'live' ? now : null,
    endedAt: status === 'ended' ? now : null,
    cancelledAt: status === 'cancelled' ? now : null,
    ...overrides,
  };
}

export interface TicketFor {
  sessionId: string;
  userId?: string;
  name?: string;
  startsAt?: string;
  /** Further claims (issue 16: `band`, `best`). */
  claims?: Record<string, unknown>;
}

export function signTicket(t: TicketFor, options: jwt.SignOptions = {}, secret = SECRET): string {
  const claims = {
    sub: t.userId ?? randomUUID(),
    sid: t.sessionId,
    role: 'trainee',
    name: t.name ?? 'Ana',
    weightKg: 70,
    startsAt: t.startsAt ?? new Date(Date.now() + 60_000).toISOString(),
    ...t.claims,
  };
  return jwt.sign(claims, secret, {
    algorithm: JOIN_TICKET.algorithm,
    issuer: JOIN_TICKET.issuer,
    audience: JOIN_TICKET.audience,
    expiresIn: 300,
    ...options,
  });
}

export interface RunningGateway {
  gateway: Gateway;
  url: string;
  httpUrl: string;
}

export async function startGateway(
  world: NatsWorld,
  env: Record<string, string> = {},
  logger: Logger = pino({ level: 'silent' }),
): Promise<RunningGateway> {
  const config = loadConfig({
    NATS_NAMESPACE: world.names.namespace,
    GATEWAY_ID: `gw-${randomUUID().slice(0, 8)}`,
    PRESENCE_INTERVAL_MS: '100',
    GATEWAY_DRAIN_MS: '0',
    ...env,
  });
  const gateway = buildGateway({ config, nc: world.nc, jsm: world.jsm, logger });
  await new Promise<void>((resolve) => gateway.server.listen(0, '127.0.0.1', resolve));
  const { port } = gateway.server.address() as AddressInfo;
  return { gateway, url: `ws://127.0.0.1:${port}${LIVE_PATH}`, httpUrl: `http://127.0.0.1:${port}` };
}

type Frame = { type: string; [key: string]: unknown };

/** A test client: collects frames, lets a test await the next frame of a type and the close code. */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number }>;
  private waiters: Array<() => void> = [];
  private read = 0;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve({ code })));
    ws.on('error', () => undefined);
  }

  /** Opens a socket with `ticket` and any `extra` query (e.g. `device=…&attempt=…`). */
  static open(gw: RunningGateway, ticket: string | null, extra = ''): TestClient {
    const params = [ticket === null ? '' : `ticket=${encodeURIComponent(ticket)}`, extra].filter((p) => p);
    return new TestClient(new WebSocket(`${gw.url}${params.length > 0 ? `?${params.join('&')}` : ''}`));
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next not-yet-consumed frame matching `predicate` (frames before it are skipped). */
  async next(predicate: string | ((f: Frame) => boolean), timeoutMs = 5_000): Promise<Frame> {
    const match = typeof predicate === 'string' ? (f: Frame) => f.type === predicate : predicate;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.read < this.frames.length) {
        const frame = this.frames[this.read++];
        if (match(frame)) return frame;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame; got ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value that is not undefined (or fails after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}
