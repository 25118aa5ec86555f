import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import {
  CloseCode,
  PresenceBeat,
  RegistrationEvent,
  SessionEvent,
  Takeover,
  type NatsNames,
} from '@pulse/contracts';
import { endedFrame, type EndBarriers, type EndingClient } from './end-barrier.js';
import type { FollowSets } from './follow-sets.js';
import { followingBoard, type Standing } from './following-board.js';
import { fanOutRanks, type RankReceiver } from './fanout.js';
import { ownParts, type PersonalClient } from './personal-parts.js';
import type { GatewayMetrics } from './metrics.js';
import { PresenceBoard } from './presence.js';
import { readRankSnapshot } from './rank-snapshot.js';
import { TokenBucket } from './rate-limit.js';
import { revokesTicket } from './revocation.js';
import { applyEvent, initialView, type SessionView } from './session-state.js';

/** What a session needs from one of its local clients. */
export interface SessionClient extends RankReceiver, EndingClient, PersonalClient {
  readonly userId: string;
  /** The trainee's display name (their entry on a following board). */
  readonly name: string;
  /** Unique per connection; with `acceptedAtMs` it orders a trainee's connections (the newest stays). */
  readonly connectionId: string;
  readonly acceptedAtMs: number;
  /** The device and attempt its upgrade named, if any (they order two sockets of the same device). */
  readonly device?: string;
  readonly attempt?: number;
  /** False until the client got its `welcome`; events before that are folded into the welcome. */
  readonly welcomed: boolean;
  send(frame: string): void;
  closeWith(frame: string, code: CloseCode): void;
  /** Re-sends the newest rank frame when none went out for `staleMs` (the ≥ 1 frame/s promise). */
  refreshRank(nowMs: number, staleMs: number): void;
  /** A newer connection of the same trainee took over: close with 4409. */
  replaced(by: Newest): void;
  /** Issued-at of the client's join ticket (unix seconds). */
  readonly ticketIssuedAtSec: number;
  /** The trainee unregistered after the ticket was issued: close with 4401. */
  revoked(): void;
}

/** A trainee's newest connection, as announced: it replaces the older ones. */
export interface Newest {
  acceptedAtMs: number;
  connectionId: string;
  /** The gateway that accepted it (absent: this one). */
  gatewayId?: string;
  /** The device and its attempt, when the client named them (DEVICE_QUERY, ATTEMPT_QUERY). */
  device?: string;
  attempt?: number;
}

/**
 * Whether connection `b` is newer than `a`: two attempts of the same device by their attempt number (a late
 * arrival of an attempt the device gave up on is older than the socket it opened since), any other two by the
 * time a gateway accepted them (ties broken by connection id, so every gateway agrees).
 */
export const acceptedBefore = (a: Newest, b: Newest): boolean => {
  if (a.device !== undefined && a.device === b.device && a.attempt !== b.attempt)
    return (a.attempt ?? 0) < (b.attempt ?? 0);
  return (
    a.acceptedAtMs < b.acceptedAtMs || (a.acceptedAtMs === b.acceptedAtMs && a.connectionId < b.connectionId)
  );
};

export interface SessionsDeps {
  nc: NatsConnection;
  /** Reads a session's last stored event when a connection arrives (see LocalSession.synced). */
  jsm: JetStreamManager;
  names: NatsNames;
  gatewayId: string;
  presenceIntervalMs: number;
  rating: { ratePerSec: number; burst: number };
  /** Drains a session's clients at its end and publishes this gateway's end barrier. */
  endBarriers: EndBarriers;
  /** Whom this gateway's trainees follow (issue 16). */
  follows: FollowSets;
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
 * and about one frame per rating, instead of one per client per engine tick. A device rating once a second
 * gets its ranked frame and one refresh a second whether the refresh waits 600 or 700 ms; 600 leaves 400 ms for
 * a busy event loop before a gap passes a second (issue 12: 700 left 7,773 of 10,000 clients a gap > 1 s).
 */
export const RANK_REFRESH_MS = 600;
const RANK_REFRESH_CHECK_MS = 50;
/** How long a read of a session's last stored event serves the connections that arrive after it. */
export const SESSION_RESYNC_MS = 5_000;

/** One session as this gateway sees it: its local clients, its NATS subscriptions, its state. */
export class LocalSession {
  view: SessionView;
  readonly clients = new Set<SessionClient>();
  readonly byUser = new Map<string, Set<SessionClient>>();
  /** Resolves once the server has registered this session's subscriptions. */
  readonly subscribed: Promise<void>;
  /** Resolves at the first beat of another gateway, or after a short wait when there is none. */
  readonly presenceSettled: Promise<void>;
  private heardOthers: () => void = () => undefined;
  /** The read of the session's last stored event that the view was last brought up to, and when it started. */
  private sync: { read: Promise<void>; atMs: number } | null = null;
  lastWaitingCount = -1;
  /** Every participant's latest rank and score from the engine's snapshots (for the following boards). */
  private readonly standings = new Map<string, Standing>();
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
      on(names.takeover(sessionId), (data) => this.onTakeover(data)),
      on(names.registrationEvent(sessionId, '*'), (data) => this.onRegistration(data)),
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

  /**
   * Resolves once the view holds the session's last stored event: read once after the subscriptions are
   * registered (later events arrive through them) and shared by the connections that arrive meanwhile and
   * within SESSION_RESYNC_MS after; then read again, so an event a NATS reconnect made this gateway miss is
   * picked up by the next connection. A failed read is not kept: the next connection tries again. One read
   * per connection made a burst of connects (devices coming back after a gateway restart, a class joining
   * before the hour) one JetStream request and one schema parse each (a third of the connect's cost).
   */
  synced(nowMs: number): Promise<void> {
    if (this.sync !== null && nowMs - this.sync.atMs < SESSION_RESYNC_MS) return this.sync.read;
    const { jsm, names } = this.registry.deps;
    const sync = {
      atMs: nowMs,
      read: this.subscribed
        .then(() => lastSessionEvent(jsm, names, this.sessionId))
        .then((event) => {
          if (event !== undefined) this.apply(event);
        }),
    };
    sync.read.catch(() => {
      if (this.sync === sync) this.sync = null;
    });
    this.sync = sync;
    return sync.read;
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
    return this.registry.bucketOf(this.sessionId, userId, nowMs);
  }

  /**
   * One live socket per trainee per session: `client`, about to be welcomed, takes over from the trainee's
   * older connections — local ones close now, other gateways' on the announce (4409). Done at the welcome, not
   * at the upgrade: a connection attempt its device gave up on can reach the gateway seconds later (a SYN-ACK
   * retransmitted after the listen queue overflowed) and, were it announced on arrival, would close the live
   * socket its device opened meanwhile; by its welcome such a socket has usually closed and announces nothing.
   * A client that names its device and attempt is safe even when it has not: a live socket of a later attempt of
   * the same device closes this one instead (false: not welcomed).
   */
  takeOver(client: SessionClient): boolean {
    const newer = this.newerLive(client.userId, client);
    if (newer !== undefined) {
      // A newer socket of the trainee is live here already (a later attempt of the same device): this one goes.
      this.replaceOlder(client.userId, newer);
      return false;
    }
    this.replaceOlder(client.userId, client);
    this.announce(client);
    return true;
  }

  /** Tells every gateway that `client` is the trainee's newest connection; older ones close with 4409. */
  private announce(client: SessionClient): void {
    const { nc, names, gatewayId } = this.registry.deps;
    const takeover: Takeover = {
      sessionId: this.sessionId,
      userId: client.userId,
      gatewayId,
      connectionId: client.connectionId,
      at: client.acceptedAtMs,
      ...(client.device !== undefined ? { device: client.device, attempt: client.attempt } : {}),
    };
    if (!nc.isClosed()) nc.publish(names.takeover(this.sessionId), JSON.stringify(takeover));
  }

  /** Closes the local connections of `userId` accepted before `newest` (4409). */
  replaceOlder(userId: string, newest: Newest): void {
    const devices = this.byUser.get(userId);
    if (devices === undefined) return;
    for (const client of devices) {
      if (acceptedBefore(client, newest)) {
        this.registry.deps.metrics.connectionsReplaced.inc();
        client.replaced(newest);
        // No longer the user's device from now on, though its socket closes later: the user's rank frames
        // (their personal parts read from the user's first device) are built for the newest one only.
        devices.delete(client);
      }
    }
    if (devices.size === 0) this.byUser.delete(userId);
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
    } else if (next.status === 'ended') {
      // New ratings are refused from now on (the view is ended); what the clients sent before is stored first.
      const { endBarriers, logger } = this.registry.deps;
      endBarriers.close(this.sessionId, welcomed).catch((err: unknown) => {
        logger.error({ err, sessionId: this.sessionId }, 'end of session failed');
        for (const client of welcomed) client.closeWith(endedFrame(this.sessionId), CloseCode.SESSION_CLOSED);
      });
    } else if (next.status === 'cancelled') {
      const frame = closingFrame(this.sessionId, next.status);
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
    const event = SessionEvent.safeParse(safeJson(data));
    if (event.success) this.apply(event.data);
    else this.registry.deps.logger.warn({ sessionId: this.sessionId }, 'ignoring malformed session event');
  }

  private onRanks(data: Uint8Array): void {
    const snapshot = readRankSnapshot(decoder.decode(data), this.sessionId);
    if (snapshot === null) {
      this.registry.deps.logger.warn({ sessionId: this.sessionId }, 'ignoring malformed rank snapshot');
      return;
    }
    this.registry.deps.metrics.snapshotAge.observe(Math.max(0, Date.now() - snapshot.at) / 1000);
    const { userIds, ranks, scores } = snapshot;
    for (let i = 0; i < userIds.length; i++) {
      const known = this.standings.get(userIds[i]);
      if (known === undefined) this.standings.set(userIds[i], { rank: ranks[i], score: scores[i] });
      else {
        known.rank = ranks[i];
        known.score = scores[i];
      }
    }
    fanOutRanks(
      snapshot,
      (userId) => this.byUser.get(userId),
      (userId, clients) =>
        ownParts(clients, this.followingPart(userId, clients), this.view.startedAt, snapshot.at),
    );
  }

  /** `,"following":{…}` for a trainee who follows someone in the class, else '' (issue 16). */
  private followingPart(userId: string, clients: Iterable<SessionClient>): string {
    const following = this.registry.deps.follows.following(userId);
    if (following.size === 0) return '';
    const client = clients[Symbol.iterator]().next().value;
    if (client === undefined) return '';
    const board = followingBoard({ userId, name: client.name }, following, this.standings);
    return board === null ? '' : `,"following":${JSON.stringify(board)}`;
  }

  refreshRanks(nowMs: number): void {
    if (this.view.status !== 'live') return;
    for (const client of this.clients) client.refreshRank(nowMs, RANK_REFRESH_MS);
  }

  private onTakeover(data: Uint8Array): void {
    const takeover = Takeover.safeParse(safeJson(data));
    if (!takeover.success || takeover.data.gatewayId === this.registry.deps.gatewayId) return;
    const announced: Newest = {
      acceptedAtMs: takeover.data.at,
      connectionId: takeover.data.connectionId,
      gatewayId: takeover.data.gatewayId,
      device: takeover.data.device,
      attempt: takeover.data.attempt,
    };
    // A live socket here is newer (a later attempt of the same device): announce it, so the other gateway
    // closes the one it just welcomed, an attempt the device gave up on.
    const newer = this.newerLive(takeover.data.userId, announced);
    if (newer !== undefined) return this.announce(newer);
    this.replaceOlder(takeover.data.userId, announced);
  }

  /** A welcomed local socket of `userId` newer than `than` (a later attempt of the same device), if any. */
  private newerLive(userId: string, than: Newest): SessionClient | undefined {
    for (const client of this.byUser.get(userId) ?? []) {
      if (client.welcomed && acceptedBefore(than, client)) return client;
    }
    return undefined;
  }

  /** A trainee unregistered: their sockets opened with an earlier ticket close with 4401. */
  private onRegistration(data: Uint8Array): void {
    const event = RegistrationEvent.safeParse(safeJson(data));
    if (!event.success) return;
    for (const client of this.byUser.get(event.data.userId) ?? []) {
      if (revokesTicket(event.data, { iat: client.ticketIssuedAtSec })) client.revoked();
    }
  }

  private onPresence(data: Uint8Array): void {
    const beat = PresenceBeat.safeParse(safeJson(data));
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

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
}

/**
 * The frame that tells a client that connected after the end its session is over (`cancelled` or `ended`,
 * with the user's last counted seq once the results are frozen and the engine knows it).
 */
export function closingFrame(
  sessionId: string,
  status: 'cancelled' | 'ended',
  finalLastSeq?: number,
): string {
  return status === 'cancelled' ? JSON.stringify({ type: 'cancelled' }) : endedFrame(sessionId, finalLastSeq);
}

/** A session's current state as the events stream holds it (its last lifecycle event), if readable. */
export async function lastSessionEvent(
  jsm: JetStreamManager,
  names: NatsNames,
  sessionId: string,
): Promise<SessionEvent | undefined> {
  const last = await jsm.streams.getMessage(names.eventsStream, {
    last_by_subj: names.sessionEvent(sessionId),
  });
  const event = last ? SessionEvent.safeParse(last.json()) : null;
  return event?.success ? event.data : undefined;
}

/** The registry of sessions that have clients on this gateway; a session leaves it with its last client. */
export class LocalSessions {
  readonly board: PresenceBoard;
  private readonly sessions = new Map<string, LocalSession>();
  /**
   * Door rate limits per (session, user), kept across reconnects until they have refilled: reconnecting
   * in a loop no longer hands out a fresh burst (issue 11). The score itself is capped by the engine.
   */
  private readonly buckets = new Map<string, TokenBucket>();
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

  bucketOf(sessionId: string, userId: string, nowMs: number): TokenBucket {
    const key = `${sessionId}/${userId}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      const { ratePerSec, burst } = this.deps.rating;
      this.buckets.set(key, (bucket = new TokenBucket(ratePerSec, burst, nowMs)));
    }
    return bucket;
  }

  leave(session: LocalSession, client: SessionClient): void {
    session.clients.delete(client);
    const devices = session.byUser.get(client.userId);
    devices?.delete(client);
    if (devices?.size === 0) session.byUser.delete(client.userId);
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
    for (const [key, bucket] of this.buckets) if (bucket.isFull(nowMs)) this.buckets.delete(key);
    for (const session of this.sessions.values()) {
      try {
        session.tick(nowMs);
      } catch (err) {
        this.deps.logger.warn({ err, sessionId: session.sessionId }, 'presence tick failed');
      }
    }
  }
}
