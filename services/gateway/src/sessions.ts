import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { CloseCode, PresenceBeat, SessionEvent, resultsPath, type NatsNames } from '@pulse/contracts';
import { fanOutRanks, type RankReceiver } from './fanout.js';
import type { GatewayMetrics } from './metrics.js';
import { PresenceBoard } from './presence.js';
import { readRankSnapshot } from './rank-snapshot.js';
import { TokenBucket } from './rate-limit.js';
import { applyEvent, initialView, type SessionView } from './session-state.js';

/** What a session needs from one of its local clients. */
export interface SessionClient extends RankReceiver {
  readonly userId: string;
  /** False until the client got its `welcome`; events before that are folded into the welcome. */
  readonly welcomed: boolean;
  send(frame: string): void;
  closeWith(frame: string, code: CloseCode): void;
  /** Re-sends the newest rank frame when none went out for `staleMs` (the ≥ 1 frame/s promise). */
  refreshRank(nowMs: number, staleMs: number): void;
}

export interface SessionsDeps {
  nc: NatsConnection;
  names: NatsNames;
  gatewayId: string;
  presenceIntervalMs: number;
  rating: { ratePerSec: number; burst: number };
  metrics: GatewayMetrics;
  logger: Logger;
}

/** Beats older than this many intervals no longer count (the gateway that sent them may be gone). */
const PRESENCE_TTL_INTERVALS = 3;
/** The first client of a session on this gateway waits at most this long for other gateways' beats. */
const PRESENCE_SETTLE_MAX_MS = 100;
/**
 * A client gets a rank frame at once when its own seq moved (its rating is ranked), else its newest frame
 * once none went out for RANK_REFRESH_MS (checked every RANK_REFRESH_CHECK_MS): at most ~1 s between frames
 * and about one frame per rating, instead of one per client per engine tick.
 */
export const RANK_REFRESH_MS = 700;
const RANK_REFRESH_CHECK_MS = 100;

/** One session as this gateway sees it: its local clients, its NATS subscriptions, its state. */
export class LocalSession {
  view: SessionView;
  readonly clients = new Set<SessionClient>();
  readonly byUser = new Map<string, Set<SessionClient>>();
  readonly buckets = new Map<string, TokenBucket>();
  /** Resolves once the server has registered this session's subscriptions. */
  readonly subscribed: Promise<void>;
  /** Resolves at the first beat of another gateway, or after a short wait when there is none. */
  readonly presenceSettled: Promise<void>;
  private heardOthers: () => void = () => undefined;
  lastWaitingCount = -1;
  private readonly subs: Subscription[];

  constructor(
    readonly sessionId: string,
    startsAt: string,
    private readonly registry: LocalSessions,
  ) {
    this.view = initialView(startsAt);
    const { nc, names, logger } = registry.deps;
    const on = (subject: string, handle: (data: Uint8Array) => void) =>
      nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return logger.warn({ err, subject, sessionId }, 'subscription error');
          try {
            handle(msg.data);
          } catch (error) {
            logger.error({ err: error, subject, sessionId }, 'message handler failed');
          }
        },
      });
    this.subs = [
      on(names.sessionEvent(sessionId), (data) => this.onEvent(data)),
      on(names.ranks(sessionId), (data) => this.onRanks(data)),
      on(names.presence(sessionId), (data) => this.onPresence(data)),
    ];
    // Beat at once: other gateways holding clients of the session answer with their own beat, so the
    // first local client's welcome already counts them.
    this.subscribed = nc.flush().then(() => this.beat(Date.now()));
    const waitMs = Math.min(PRESENCE_SETTLE_MAX_MS, registry.deps.presenceIntervalMs);
    this.presenceSettled = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      this.heardOthers = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  get connectedUsers(): number {
    return this.byUser.size;
  }

  participants(nowMs: number): number {
    return this.registry.board.count(this.sessionId, nowMs, {
      gatewayId: this.registry.deps.gatewayId,
      connected: this.connectedUsers,
    });
  }

  bucketOf(userId: string, nowMs: number): TokenBucket {
    let bucket = this.buckets.get(userId);
    if (!bucket) {
      const { ratePerSec, burst } = this.registry.deps.rating;
      this.buckets.set(userId, (bucket = new TokenBucket(ratePerSec, burst, nowMs)));
    }
    return bucket;
  }

  /** Folds a lifecycle event in and tells the welcomed clients what changed (each frame encoded once). */
  apply(event: SessionEvent): void {
    const previous = this.view;
    const next = applyEvent(previous, event);
    if (!next) return;
    this.view = next;
    const welcomed = [...this.clients].filter((c) => c.welcomed);
    if (next.status === 'live' && previous.status !== 'live') {
      const frame = JSON.stringify({ type: 'started', startedAt: next.startedAt ?? event.at });
      for (const client of welcomed) client.send(frame);
    } else if (next.status === 'scheduled' && next.startsAt !== previous.startsAt) {
      const frame = JSON.stringify({ type: 'rescheduled', startsAt: next.startsAt });
      for (const client of welcomed) client.send(frame);
    } else if (next.status === 'cancelled' || next.status === 'ended') {
      const frame = closingFrame(this.sessionId, next);
      for (const client of welcomed) client.closeWith(frame, CloseCode.SESSION_CLOSED);
    }
  }

  /** Called once per presence interval: this gateway's beat, and `waiting` frames when the count moved. */
  tick(nowMs: number): void {
    this.beat(nowMs);
    if (this.view.status !== 'scheduled') return;
    const participants = this.participants(nowMs);
    if (participants === this.lastWaitingCount) return;
    this.lastWaitingCount = participants;
    const frame = JSON.stringify({ type: 'waiting', startsAt: this.view.startsAt, participants });
    for (const client of this.clients) if (client.welcomed) client.send(frame);
  }

  private beat(nowMs: number): void {
    const { nc, names, gatewayId } = this.registry.deps;
    const beat: PresenceBeat = {
      gatewayId,
      sessionId: this.sessionId,
      connected: this.connectedUsers,
      at: nowMs,
    };
    if (!nc.isClosed()) nc.publish(names.presence(this.sessionId), JSON.stringify(beat));
  }

  close(): void {
    for (const sub of this.subs) sub.unsubscribe();
    const { nc, names, gatewayId } = this.registry.deps;
    // A last beat with 0 so other gateways stop counting these clients before the entry expires.
    const beat: PresenceBeat = { gatewayId, sessionId: this.sessionId, connected: 0, at: Date.now() };
    if (!nc.isClosed()) nc.publish(names.presence(this.sessionId), JSON.stringify(beat));
  }

  private onEvent(data: Uint8Array): void {
    const event = SessionEvent.safeParse(JSON.parse(decoder.decode(data)));
    if (event.success) this.apply(event.data);
    else this.registry.deps.logger.warn({ sessionId: this.sessionId }, 'ignoring malformed session event');
  }

  private onRanks(data: Uint8Array): void {
    const snapshot = readRankSnapshot(decoder.decode(data), this.sessionId);
    if (snapshot === null) {
      this.registry.deps.logger.warn({ sessionId: this.sessionId }, 'ignoring malformed rank snapshot');
      return;
    }
    fanOutRanks(snapshot, (userId) => this.byUser.get(userId));
  }

  refreshRanks(nowMs: number): void {
    if (this.view.status !== 'live') return;
    for (const client of this.clients) client.refreshRank(nowMs, RANK_REFRESH_MS);
  }

  private onPresence(data: Uint8Array): void {
    const beat = PresenceBeat.safeParse(JSON.parse(decoder.decode(data)));
    if (!beat.success || beat.data.gatewayId === this.registry.deps.gatewayId) return;
    const { board } = this.registry;
    const nowMs = Date.now();
    const newcomer = !board.knows(this.sessionId, beat.data.gatewayId, nowMs);
    board.record(this.sessionId, beat.data.gatewayId, beat.data.connected, nowMs);
    this.heardOthers();
    // A gateway we had not heard from just took clients of this session: tell it about ours now.
    if (newcomer && this.clients.size > 0) this.beat(nowMs);
  }
}

const decoder = new TextDecoder();

/** The frame that tells a client its session is over (`cancelled` or `ended`). */
export function closingFrame(sessionId: string, view: SessionView): string {
  return view.status === 'cancelled'
    ? JSON.stringify({ type: 'cancelled' })
    : JSON.stringify({ type: 'ended', resultsPath: resultsPath(sessionId) });
}

/** The registry of sessions that have clients on this gateway; a session leaves it with its last client. */
export class LocalSessions {
  readonly board: PresenceBoard;
  private readonly sessions = new Map<string, LocalSession>();
  private timer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(readonly deps: SessionsDeps) {
    this.board = new PresenceBoard(deps.presenceIntervalMs * PRESENCE_TTL_INTERVALS);
    this.timer = setInterval(() => this.tick(), deps.presenceIntervalMs);
    this.refreshTimer = setInterval(() => this.refreshRanks(), RANK_REFRESH_CHECK_MS);
  }

  join(sessionId: string, startsAt: string, client: SessionClient): LocalSession {
    let session = this.sessions.get(sessionId);
    if (!session) {
      this.sessions.set(sessionId, (session = new LocalSession(sessionId, startsAt, this)));
      this.deps.metrics.localSessions.set(this.sessions.size);
    }
    session.clients.add(client);
    let devices = session.byUser.get(client.userId);
    if (!devices) session.byUser.set(client.userId, (devices = new Set()));
    devices.add(client);
    return session;
  }

  leave(session: LocalSession, client: SessionClient): void {
    session.clients.delete(client);
    const devices = session.byUser.get(client.userId);
    devices?.delete(client);
    if (devices?.size === 0) {
      session.byUser.delete(client.userId);
      session.buckets.delete(client.userId);
    }
    if (session.clients.size > 0 || this.sessions.get(session.sessionId) !== session) return;
    this.sessions.delete(session.sessionId);
    this.board.forget(session.sessionId);
    session.close();
    this.deps.metrics.localSessions.set(this.sessions.size);
  }

  /** Stops the presence beats (shutdown); sessions go away as their clients close. */
  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.refreshTimer);
    this.timer = undefined;
    this.refreshTimer = undefined;
  }

  private refreshRanks(): void {
    const nowMs = Date.now();
    for (const session of this.sessions.values()) session.refreshRanks(nowMs);
  }

  private tick(): void {
    const nowMs = Date.now();
    this.board.prune(nowMs);
    for (const session of this.sessions.values()) {
      try {
        session.tick(nowMs);
      } catch (err) {
        this.deps.logger.warn({ err, sessionId: session.sessionId }, 'presence tick failed');
      }
    }
  }
}
