import { randomUUID } from 'node:crypto';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { WebSocket, RawData } from 'ws';
import {
  CloseCode,
  MAX_CLIENT_FRAME_BYTES,
  RegistrationEvent,
  parseClientFrame,
  participantMsgId,
  type ParticipantMessage,
  type BoardFrame,
  type JoinTicketClaims,
  type NatsNames,
  type RatingFrame,
  type RatingMessage,
} from '@pulse/contracts';
import {
  DependencyUnavailable,
  EarlierRatingNotStored,
  InvalidMessage,
  InvalidTicket,
  NotLive,
  RateLimited,
  errorCodeOf,
  errorFrame,
} from './errors.js';
import type { GatewayMetrics } from './metrics.js';
import type { LastSeqSource } from './last-seq.js';
import type { Publisher } from './publisher.js';
import type { RatingBatches } from './rating-batches.js';
import { RankDelivery } from './rank-delivery.js';
import { RankLatency } from './rank-latency.js';
import { PersonalParts } from './personal-parts.js';
import { RatingOrder } from './rating-order.js';
import type { DeviceOrigin } from './door.js';
import { revokesTicket } from './revocation.js';
import {
  closingFrame,
  type LocalSession,
  type LocalSessions,
  type Newest,
  type SessionClient,
} from './sessions.js';

export interface ConnectionDeps {
  jsm: JetStreamManager;
  names: NatsNames;
  publisher: Publisher;
  /** Ratings go to JetStream in one batch message per partition and window. */
  batches: RatingBatches;
  /** The user's last counted seq, from the engine owning the session's partition. */
  lastSeq: LastSeqSource;
  sessions: LocalSessions;
  metrics: GatewayMetrics;
  logger: Logger;
  sendBufferLowBytes: number;
  sendBufferMaxBytes: number;
  slowConsumerMs: number;
  /** A socket not welcomed this long after the upgrade is closed with 1012 (a dependency is slow). */
  welcomeTimeoutMs: number;
  /** The engine's minute (MINUTE_MS): a personal best's pace is read per elapsed minute (issue 16). */
  minuteMs: number;
}

/**
 * Frames a client may send before its `welcome`; they are handled right after it. With each held frame at
 * most MAX_CLIENT_FRAME_BYTES (larger ones are refused at once), a socket buffers at most 256 KiB before
 * its welcome.
 */
const MAX_EARLY_FRAMES = 256;

/**
 * One client's socket: setup and welcome, frames in (ratings, pings) and lifecycle frames out; its rank frames
 * go out through its RankDelivery (rank-delivery.ts: send policy, coalescing, backpressure).
 */
export class Connection implements SessionClient {
  readonly userId: string;
  readonly connectionId = randomUUID();
  readonly acceptedAtMs = Date.now();
  welcomed = false;
  private session: LocalSession | undefined;
  /** Highest seq of this user the engine had counted when the client was welcomed (all stored). */
  private lastSeq = 0;
  private followsTracked = false;
  /** The user's last counted seq in the frozen results, when the engine knows it (told in `ended`). */
  private finalLastSeq: number | undefined;
  /** This client's ratings in seq order on their way to JetStream (created at the welcome). */
  private ratings: RatingOrder | null = null;
  private early: RawData[] | null = [];
  private readonly ranks: RankDelivery;
  private closed = false;
  private readonly log: Logger;
  /** Rating → own rank latency (pulse_gateway_rating_to_rank_seconds). */
  private readonly latency = new RankLatency();
  private readonly observeLatency = (seconds: number) => this.deps.metrics.ratingToRank.observe(seconds);
  private welcomeTimer: NodeJS.Timeout | null = null;
  /** Personal best pace and main board of this socket's rank frames (issue 16). */
  private readonly personal: PersonalParts;

  /** The device and attempt the upgrade named (DEVICE_QUERY, ATTEMPT_QUERY), if any: they order its takeovers. */
  readonly device: string | undefined;
  readonly attempt: number | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly claims: JoinTicketClaims,
    private readonly deps: ConnectionDeps,
    origin?: DeviceOrigin,
  ) {
    this.userId = claims.sub;
    this.device = origin?.device;
    this.attempt = origin?.attempt;
    this.personal = new PersonalParts(claims.best, claims.band !== undefined, deps.minuteMs);
    this.log = deps.logger.child({
      sessionId: claims.sid,
      userId: claims.sub,
      connectionId: this.connectionId,
    });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code) => this.onClose(code));
    ws.on('error', (err) => this.log.debug({ err }, 'socket error'));
    this.welcomeTimer = setTimeout(() => this.welcomeTimedOut(), deps.welcomeTimeoutMs);
    this.ranks = new RankDelivery(
      {
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        write: (frame, onWritten) => this.send(frame, onWritten),
        slow: () => this.closeSlow(),
      },
      {
        sendBufferLowBytes: deps.sendBufferLowBytes,
        sendBufferMaxBytes: deps.sendBufferMaxBytes,
        slowConsumerMs: deps.slowConsumerMs,
        written: (seq, atMs) => this.latency.ranked(seq, atMs, this.observeLatency),
      },
      deps.metrics,
    );
  }

  private welcomeTimedOut(): void {
    if (this.welcomed || this.closed) return;
    this.log.warn({ timeoutMs: this.deps.welcomeTimeoutMs }, 'no welcome in time: closing with 1012');
    this.closeWith(
      errorFrame(new DependencyUnavailable(new Error('welcome timed out'))),
      CloseCode.RECONNECT,
    );
  }

  get name(): string {
    return this.claims.name;
  }

  get ticketIssuedAtSec(): number {
    return this.claims.iat ?? 0;
  }

  /** The trainee unregistered after this ticket was issued: the ticket no longer works (4401). */
  revoked(): void {
    if (this.closed) return;
    this.log.debug('ticket revoked: the trainee unregistered');
    const err = new InvalidTicket('the trainee unregistered from the session');
    this.deps.metrics.framesRejected.inc({ code: err.code });
    this.closeWith(errorFrame(err), CloseCode.UNAUTHORIZED);
  }

  /** A newer connection of the same trainee took over (here or on another gateway). */
  replaced(by: Newest): void {
    if (this.closed) return;
    // Rare and final for the device (4409 ends its live session): worth a line with both connections.
    this.log.info(
      {
        acceptedAtMs: this.acceptedAtMs,
        welcomed: this.welcomed,
        device: this.device,
        attempt: this.attempt,
        by: {
          acceptedAtMs: by.acceptedAtMs,
          connectionId: by.connectionId,
          gatewayId: by.gatewayId ?? 'this',
          device: by.device,
          attempt: by.attempt,
        },
      },
      'replaced by a newer connection',
    );
    this.close(CloseCode.REPLACED);
  }

  /** Joins the session, reads its state and the user's lastSeq, announces the user, sends `welcome`. */
  async start(): Promise<void> {
    const { sessions, names, jsm, publisher } = this.deps;
    const { sid, sub } = this.claims;
    const session = (this.session = sessions.join(sid, this.claims.startsAt, this));
    this.deps.metrics.connections.inc();
    this.log.debug('client connected');
    try {
      await session.subscribed;
      // A client that dropped right after its upgrade is gone by now, its close already handled: nothing is
      // announced for it, and no follow set is loaded that nothing would ever give back.
      if (this.closed) return;
      const participant = JSON.stringify({
        kind: 'participant',
        sessionId: sid,
        userId: sub,
        name: this.claims.name,
        weightKg: this.claims.weightKg,
        ts: Date.now(),
        band: this.claims.band,
      } satisfies ParticipantMessage);
      const [, lastSeq, lastRegistration] = await Promise.all([
        session.synced(Date.now()),
        this.deps.lastSeq(sid, sub),
        jsm.streams.getMessage(names.eventsStream, { last_by_subj: names.registrationEvent(sid, sub) }),
        publisher.publish(names.participant(sid, sub), participant, participantMsgId(sid, sub)),
        session.presenceSettled,
        this.trackFollows(),
      ]);
      this.lastSeq = lastSeq.lastSeq;
      this.finalLastSeq = lastSeq.final ? lastSeq.lastSeq : undefined;
      const registration = lastRegistration ? RegistrationEvent.safeParse(lastRegistration.json()) : null;
      if (registration?.success && revokesTicket(registration.data, this.claims)) return this.revoked();
    } catch (err) {
      if (this.closed) return;
      this.log.warn({ err }, 'connection setup failed');
      this.closeWith(errorFrame(new DependencyUnavailable(err)), CloseCode.RECONNECT);
      return;
    }
    // A peer that already half-closed (its FIN read, ws closing) is gone: an attempt its device gave up on.
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.welcome(session);
  }

  private welcome(session: LocalSession): void {
    const { view } = session;
    if (view.status === 'cancelled' || view.status === 'ended') {
      this.closeWith(
        closingFrame(session.sessionId, view.status, this.finalLastSeq),
        CloseCode.SESSION_CLOSED,
      );
      return;
    }
    // A later attempt of the same device is here already: this one was given up on (4409, as replaced).
    if (!session.takeOver(this)) return;
    this.welcomed = true;
    this.clearWelcomeTimer();
    this.ratings = this.orderRatings();
    this.send(
      JSON.stringify({
        type: 'welcome',
        state: view.status === 'live' ? 'live' : 'waiting',
        sessionId: session.sessionId,
        startsAt: view.startsAt,
        participants: session.participants(Date.now()),
        lastSeq: this.lastSeq,
      }),
    );
    const early = this.early ?? [];
    this.early = null;
    for (const data of early) this.handleFrame(data);
  }

  send(frame: string, onWritten?: () => void): void {
    if (this.closed) return;
    if (this.ws.bufferedAmount > this.deps.sendBufferMaxBytes) return this.closeSlow();
    this.ws.send(frame, onWritten);
  }

  closeWith(frame: string, code: CloseCode): void {
    if (this.closed) return;
    this.send(frame);
    this.close(code);
  }

  close(code: CloseCode): void {
    if (this.closed) return;
    this.closed = true;
    this.clearWelcomeTimer();
    this.ranks.stop();
    this.ws.close(code);
  }

  /**
   * The session ended (issue 14): the ratings this client sent before are stored; those still queued after
   * `deadlineMs` are refused with NOT_LIVE. Resolves with the highest stored seq once none is in flight.
   */
  async settleRatings(deadlineMs: number): Promise<number> {
    const ratings = this.ratings;
    if (ratings === null) return this.lastSeq;
    const timer = setTimeout(
      () =>
        ratings.refuseQueued((seq) => new NotLive(seq, 'the session ended before this rating was stored')),
      deadlineMs,
    );
    await ratings.idle();
    clearTimeout(timer);
    return ratings.lastStored;
  }

  /** The client's newest rank frame (`seq`: the highest of its seqs the rank counts). */
  offerRank(frame: string, seq: number): void {
    if (!this.welcomed || this.closed) return;
    this.ranks.offer(frame, seq);
  }

  refreshRank(nowMs: number, staleMs: number): void {
    if (!this.closed) this.ranks.refresh(nowMs, staleMs);
  }

  private closeSlow(): void {
    if (this.closed) return;
    this.deps.metrics.slowConsumersClosed.inc();
    this.log.info({ bufferedBytes: this.ws.bufferedAmount }, 'closing slow consumer');
    this.close(CloseCode.SLOW_CONSUMER);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (isBinary) return this.reject(new InvalidMessage('frames must be JSON text'));
    if (this.early) {
      if (byteLength(data) > MAX_CLIENT_FRAME_BYTES) {
        this.reject(new InvalidMessage(`frame larger than ${MAX_CLIENT_FRAME_BYTES} bytes`));
      } else if (this.early.length < MAX_EARLY_FRAMES) this.early.push(data);
      else this.reject(new InvalidMessage('too many frames before welcome'));
      return;
    }
    this.handleFrame(data);
  }

  private handleFrame(data: RawData): void {
    const parsed = parseClientFrame(toBuffer(data));
    if (!parsed.ok) return this.reject(new InvalidMessage(parsed.error.message));
    if (parsed.frame.type === 'ping') return this.send('{"type":"pong"}');
    if (parsed.frame.type === 'board') return this.chooseBoard(parsed.frame);
    this.handleRating(parsed.frame);
  }

  /** The main board of this socket's next rank frames; a board the trainee is not on is refused. */
  private chooseBoard(frame: BoardFrame): void {
    try {
      this.personal.choose(frame.main);
    } catch (err) {
      this.reject(err);
    }
  }

  personalPart(followingPart: string, startedAt: string | null, atMs: number): string {
    return this.personal.part(followingPart, startedAt, atMs);
  }

  private orderRatings(): RatingOrder {
    const { metrics, batches } = this.deps;
    const { sid, sub } = this.claims;
    return new RatingOrder(this.lastSeq, {
      publish: ({ seq, energy, ts }) => {
        const message: RatingMessage = { kind: 'rating', sessionId: sid, userId: sub, seq, energy, ts };
        return batches.add(message);
      },
      stored: () => metrics.ratingsPublished.inc(),
      duplicate: () => metrics.ratingsDuplicate.inc(),
      refused: (err) => {
        // The first refusal says why; the ones it causes (EarlierRatingNotStored) only at debug level.
        if (err instanceof EarlierRatingNotStored)
          this.log.debug({ seq: err.seq }, 'rating refused: earlier seq missing');
        else this.log.warn({ err, seq: err.seq }, 'rating not stored');
        this.reject(err);
      },
    });
  }

  private handleRating(frame: RatingFrame): void {
    const session = this.session!;
    const ratings = this.ratings!;
    const { sub } = this.claims;
    const nowMs = Date.now();
    this.deps.metrics.ratingsReceived.inc();
    if (session.view.status !== 'live') return this.reject(new NotLive(frame.seq));
    if (frame.seq > ratings.lastStored && !session.bucketOf(sub, nowMs).take(nowMs)) {
      const limited = new RateLimited(frame.seq);
      limited.resendFrom = ratings.refuse(frame.seq);
      return this.reject(limited);
    }
    ratings.submit({ seq: frame.seq, energy: frame.energy, ts: nowMs });
    this.latency.received(frame.seq, nowMs);
  }

  /** The one place that answers a client's frame with an `error` frame. */
  private reject(err: unknown): void {
    this.deps.metrics.framesRejected.inc({ code: errorCodeOf(err) });
    this.send(errorFrame(err));
  }

  private clearWelcomeTimer(): void {
    if (this.welcomeTimer !== null) clearTimeout(this.welcomeTimer);
    this.welcomeTimer = null;
  }

  /** Whom this trainee follows, kept current while the socket is open (never fails the connect). */
  private async trackFollows(): Promise<void> {
    this.followsTracked = true;
    await this.deps.sessions.deps.follows.track(this.claims.sub);
  }

  private onClose(code: number): void {
    if (this.followsTracked) {
      this.followsTracked = false;
      this.deps.sessions.deps.follows.untrack(this.claims.sub);
    }
    const wasOpen = !this.closed;
    this.closed = true;
    this.clearWelcomeTimer();
    this.ranks.stop();
    this.early = null;
    this.ratings?.stop();
    if (this.session) {
      this.deps.sessions.leave(this.session, this);
      this.deps.metrics.connections.dec();
    }
    if (wasOpen) this.log.debug({ code, welcomed: this.welcomed }, 'client closed the socket');
  }
}

function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(new Uint8Array(data));
}
