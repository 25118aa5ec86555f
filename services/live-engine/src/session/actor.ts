import type { NatsConnection } from '@nats-io/transport-node';
import { RANK_SNAPSHOT_CHUNK, type LiveMessage, type NatsNames, type ResultsFinal } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { EngineMetrics } from '../metrics.js';
import type { AllowanceRule } from '../scoring/participant.js';
import { SessionStandings, type RatingOutcome } from '../scoring/standings.js';
import type { Ackable, RawBatcher } from '../storage/raw-batcher.js';
import type { ResultsBatcher } from '../storage/results-batcher.js';
import { endBarrierOf, type ActorCheckpoint, type EndBarrierExtra } from './checkpoint.js';
import { barrierState, type GatewayBoard } from './end-barrier.js';
import { Mailbox } from './mailbox.js';
import type { VersionClock } from './version-clock.js';

/** A rank snapshot goes out at least this often even when nothing changed (gateways promise ≥ 1 Hz). */
export const MAX_SNAPSHOT_GAP_MS = 1_000;
/**
 * Ratings reach an actor before its session's start event only in a race (the gateways heard the start first);
 * held longer than this, the engine's session events lagged, and a line in the log says so.
 */
export const HELD_WARN_MS = 1_000;

export type ActorState = 'waiting' | 'live' | 'ending' | 'ended' | 'stopped';

/** What a session's actor needs of the partition it belongs to (see session/partitions.ts). */
export interface PartitionLink {
  /** The partition's raw rows on their way to ClickHouse; messages are acked once their rows are stored. */
  readonly raw: RawBatcher;
  /** The partition's results writes, stored together. */
  readonly results: ResultsBatcher;
  /** Whether the engine has processed everything JetStream holds for the partition (nothing undelivered). */
  caughtUp(): Promise<boolean>;
  /** Whether this engine may process the partition now (its lease is valid); a single engine always may. */
  owns(): boolean;
}

export interface ActorDeps {
  readonly nc: NatsConnection;
  readonly names: NatsNames;
  readonly metrics: EngineMetrics;
  readonly log: Logger;
  readonly versions: VersionClock;
  readonly now: () => number;
  readonly minuteMs: number;
  readonly snapshotChunk?: number;
  /** The score allowance (SCORE_ALLOWANCE in contracts unless configured). */
  readonly allowance?: AllowanceRule;
  /** Which gateways hold clients of a session, so owe it an end barrier (see end-barrier.ts). */
  readonly gateways: GatewayBoard;
  /** An ending session freezes at the latest this long after its end was seen, barriers or not. */
  readonly endBarrierMaxWaitMs: number;
}

/**
 * What one JetStream message carried for this session: a participant or rating message, or this session's part
 * of a gateway's rating batch. `ack` (null for a replayed message) is acked once its rows are stored.
 */
export interface EntryGroup {
  readonly entries: readonly LiveMessage[];
  /** The message's stream sequence (compared with the ack floor in a replay). */
  readonly streamSeq: number;
  readonly ack: Ackable | null;
}

/** When the actor is created: the session's start, if known yet, and whether its partition is replayed. */
export interface ActorStart {
  readonly startedAtMs: number | null;
  readonly following: boolean;
  /** The state a partition checkpoint kept (a new owner restores it instead of replaying what it covers). */
  readonly restored?: ActorCheckpoint;
}

/**
 * Owns one session: its standings change only here, one mailbox task at a time. Its partition routes the
 * session's messages to it (replayed ones first when an engine takes the partition over); it ranks them,
 * publishes rank snapshots on the engine's tick and writes the results. Raw rows go to the partition's
 * RawBatcher, which acks the messages once stored. The actor costs nothing until a message or a lifecycle
 * event of its session arrives: it is created on the first one.
 */
export class SessionActor {
  state: ActorState;
  readonly standings: SessionStandings;
  private readonly mailbox: Mailbox;
  private readonly log: Logger;
  /** Ratings that arrived before the start was known (the engine saw them before the `started` event). */
  private held: Array<{ group: EntryGroup; live: boolean; ackFloor: number }> = [];
  /** When the first of `held` arrived (a hold longer than HELD_WARN_MS is logged: the start event was late). */
  private heldSinceMs = 0;
  private tick = 0;
  private lastSnapshotAt = 0;
  private resultsPending = false;
  /** The partition's replay is done: the standings hold everything consumed before. */
  private following: boolean;
  private finishing = false;
  /** Gateways whose end barrier this session's messages carried: all their ratings of it are counted. */
  private readonly barriers = new Set<string>();
  private endSeenAtMs = 0;
  private barrierPassed = false;
  /** The final results are stored: the standings no longer change. */
  frozen = false;
  private finished: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(
    readonly sessionId: string,
    start: ActorStart,
    private readonly partition: PartitionLink,
    private readonly deps: ActorDeps,
  ) {
    this.state = start.startedAtMs === null ? 'waiting' : 'live';
    this.following = start.following;
    const cp = start.restored;
    if (cp === undefined) {
      this.standings = new SessionStandings(sessionId, start.startedAtMs ?? 0, deps.minuteMs, deps.allowance);
    } else {
      this.state = cp.state;
      this.standings = SessionStandings.restore(
        sessionId,
        cp.startedAtMs ?? 0,
        deps.minuteMs,
        cp.standings,
        deps.allowance,
      );
      // Held messages were never counted, so their rows were never stored: store them when counted (ackFloor 0).
      this.held = cp.held.map((h) => ({ group: { ...h, ack: null }, live: false, ackFloor: 0 }));
      this.heldSinceMs = deps.now();
      const barrier = endBarrierOf(cp.extra);
      for (const gatewayId of barrier.barriers) this.barriers.add(gatewayId);
      // An ending actor of a checkpoint without the barrier's state waits its full maximum from now.
      this.endSeenAtMs = barrier.endSeenAtMs || (cp.state === 'ending' ? deps.now() : 0);
    }
    this.log = deps.log.child({ sessionId });
    this.mailbox = new Mailbox(this.log);
    this.done = new Promise((resolve) => (this.finished = resolve));
  }

  /** What messages carried for this session, in stream order (`live`: from the durable consumer). */
  deliver(groups: EntryGroup[], live: boolean, ackFloor: number): void {
    this.mailbox.post(() => {
      for (const group of groups) this.handle(group, live, ackFloor);
    });
  }

  /** The user's highest counted seq (0 if none), after everything already in the mailbox. */
  lastSeqOf(userId: string): Promise<number> {
    return new Promise((resolve) => {
      this.mailbox.post(() => resolve(this.standings.participant(userId)?.lastSeq ?? 0));
      if (this.mailbox.closed) resolve(this.standings.participant(userId)?.lastSeq ?? 0);
    });
  }

  /**
   * The actor's state after everything already in its mailbox (session/checkpoint.ts), or null once it ended or
   * stopped. Taken in one mailbox task, so the actors of a partition asked in one turn of the event loop give
   * one consistent cut of its stream.
   */
  checkpoint(): Promise<ActorCheckpoint | null> {
    return new Promise((resolve) => {
      this.mailbox.post(() => resolve(this.captureCheckpoint()));
      void this.done.then(() => resolve(null));
    });
  }

  private captureCheckpoint(): ActorCheckpoint | null {
    if (this.state !== 'waiting' && this.state !== 'live' && this.state !== 'ending') return null;
    return {
      sessionId: this.sessionId,
      state: this.state,
      startedAtMs: this.state === 'waiting' ? null : this.standings.startedAtMs,
      standings: this.standings.capture(),
      held: this.held.map((h) => ({ streamSeq: h.group.streamSeq, entries: [...h.group.entries] })),
      extra: {
        endBarrier: { barriers: [...this.barriers], endSeenAtMs: this.endSeenAtMs } satisfies EndBarrierExtra,
      },
    };
  }

  /** The partition's replay is done: from now on snapshots and results reflect everything consumed. */
  follow(): void {
    this.mailbox.post(() => {
      this.following = true;
    });
  }

  /** The session is live since `startedAtMs`: ratings held until now are counted. */
  goLive(startedAtMs: number): void {
    this.mailbox.post(() => {
      if (this.state !== 'waiting') return;
      this.standings.start(startedAtMs);
      this.state = 'live';
      const held = this.held;
      const heldMs = this.deps.now() - this.heldSinceMs;
      if (held.length > 0 && heldMs > HELD_WARN_MS) {
        this.log.warn({ groups: held.length, heldMs }, 'ratings held until the session start event arrived');
      }
      this.held = [];
      for (const h of held) this.handle(h.group, h.live, h.ackFloor);
    });
  }

  /** Rank snapshot (when changed or due) and, for an ending session, the check whether it can freeze. */
  postTick(): void {
    this.mailbox.post(() => this.onTick());
  }

  postResultsFlush(): void {
    this.mailbox.post(() => {
      void this.writeResults(0, false);
    });
  }

  /**
   * The session ended: finish once every gateway holding its clients has sent its end barrier and everything
   * stored before is processed, then freeze results.
   */
  end(): void {
    this.mailbox.post(() => {
      if (this.state !== 'live') return;
      this.state = 'ending';
      this.endSeenAtMs = this.deps.now();
    });
  }

  /** Cancelled: forget the session (no results). */
  cancel(): Promise<void> {
    this.mailbox.post(() => {
      this.state = 'ended';
      this.close();
    });
    return this.done;
  }

  /** Graceful stop (handover, shutdown): write non-final standings; the partition stores and acks the rows. */
  stop(): Promise<void> {
    this.mailbox.post(async () => {
      if (this.state === 'ended') return;
      const standings = this.writeResults(0, true);
      this.state = 'stopped';
      await standings;
      this.close();
    });
    return this.done;
  }

  /** The lease is lost (another engine may own the partition): stop at once, write nothing. */
  abandon(): Promise<void> {
    if (this.state !== 'ended') this.state = 'stopped';
    this.mailbox.post(() => this.close());
    return this.done;
  }

  private close(): void {
    this.held = [];
    this.mailbox.close();
    this.finished?.();
  }

  /** Counts what one message carried (`live`: from the durable consumer, acked once its rows are stored). */
  private handle(group: EntryGroup, live: boolean, ackFloor: number): void {
    if (this.state === 'stopped' || !this.partition.owns()) return;
    const raw = this.partition.raw;
    const nowMs = this.deps.now();
    if (this.state === 'ended') return raw.add(null, group.ack, nowMs); // frozen: stragglers, nothing to count
    if (this.state === 'waiting' && group.entries.some((e) => e.kind === 'rating')) {
      if (this.held.length === 0) this.heldSinceMs = nowMs;
      this.held.push({ group, live, ackFloor });
      return;
    }
    // Only counted ratings are stored, so raw rows and results agree. A replayed rating above the ack floor
    // may never have reached ClickHouse: store it (again). A resent seq is stored by the message that counted it.
    const storeCounted = live || group.streamSeq > ackFloor;
    const outcomes = live ? new Map<RatingOutcome, number>() : null;
    /** When the gateway received the group's first rating (the rating age metric, live groups only). */
    let receivedAtMs: number | undefined;
    for (const msg of group.entries) {
      if (msg.kind === 'participant') {
        this.standings.join(msg.userId, msg.name, msg.weightKg, msg.band);
        continue;
      }
      if (msg.kind === 'barrier') {
        this.barriers.add(msg.gatewayId);
        continue;
      }
      receivedAtMs ??= msg.ts;
      const outcome = this.standings.rate(msg.userId, msg.seq, msg.energy, msg.ts);
      outcomes?.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (outcome !== 'counted' || !storeCounted) continue;
      raw.add(
        {
          session_id: msg.sessionId,
          user_id: msg.userId,
          seq: msg.seq,
          energy: msg.energy,
          ts: Math.floor(msg.ts / 1000),
          ts_ms: msg.ts,
          minute: this.standings.minuteOf(msg.ts),
        },
        null,
        nowMs,
      );
    }
    for (const [outcome, n] of outcomes ?? []) this.deps.metrics.ratingsProcessed.inc({ outcome }, n);
    if (live && receivedAtMs !== undefined) {
      this.deps.metrics.ratingAgeSeconds.observe((nowMs - receivedAtMs) / 1000);
    }
    raw.add(null, group.ack, nowMs);
  }

  private onTick(): void {
    if (!this.following || !this.partition.owns()) return;
    if (this.state === 'live' || this.state === 'ending') this.publishSnapshot();
    if (this.state === 'ending' && !this.finishing && this.endBarrierPassed()) void this.tryFinish();
  }

  /** Whether every gateway that held clients of the session has sent its end barrier (or the wait is over). */
  private endBarrierPassed(): boolean {
    if (this.barrierPassed) return true;
    const nowMs = this.deps.now();
    const { gateways, endBarrierMaxWaitMs, metrics } = this.deps;
    const state = barrierState(
      this.sessionId,
      this.barriers,
      this.endSeenAtMs,
      nowMs,
      gateways,
      endBarrierMaxWaitMs,
    );
    if (!state.passed) return false;
    this.barrierPassed = true;
    const waitedMs = nowMs - this.endSeenAtMs;
    metrics.endBarrierSeconds.observe(waitedMs / 1000);
    if (state.timedOut) {
      metrics.endBarrierTimeouts.inc();
      this.log.warn(
        { waitedMs, awaiting: state.awaiting, barriers: [...this.barriers] },
        'end barrier timed out: freezing without these gateways',
      );
    } else {
      this.log.info({ waitedMs, barriers: [...this.barriers] }, 'end barrier passed');
    }
    return true;
  }

  /**
   * Every tick: a delta (only the users whose own entry changed, with their current rank) when something
   * changed; a full snapshot of everyone at least every MAX_SNAPSHOT_GAP_MS. So a rater sees its rating
   * ranked within about one tick, and the cost per tick is O(changed · log n), not O(n).
   */
  private publishSnapshot(): void {
    const now = this.deps.now();
    const full = now - this.lastSnapshotAt >= MAX_SNAPSHOT_GAP_MS;
    if (!full && this.standings.dirtyCount === 0) return;
    const started = performance.now();
    const chunkSize = this.deps.snapshotChunk ?? RANK_SNAPSHOT_CHUNK;
    const chunks = full
      ? this.standings.snapshot(this.tick++, now, chunkSize)
      : this.standings.delta(this.tick++, now, chunkSize);
    this.deps.metrics.rankSeconds.observe((performance.now() - started) / 1000);
    const subject = this.deps.names.ranks(this.sessionId);
    for (const chunk of chunks) this.deps.nc.publish(subject, JSON.stringify(chunk));
    this.deps.metrics.snapshotsPublished.inc(chunks.length);
    if (full) this.lastSnapshotAt = now;
  }

  /**
   * The session can freeze once the engine has been handed everything JetStream holds for the partition
   * (so every message of this session stored before the end is in this mailbox, ahead of the finish task)
   * and the raw rows of what it processed are stored. What a dead owner held unacked was counted by the
   * replay and re-stored from there, so the finish need not wait for its redelivery.
   */
  private async tryFinish(): Promise<void> {
    this.finishing = true;
    const caughtUp = await this.partition.caughtUp().catch(() => false);
    if (!caughtUp) {
      this.finishing = false;
      return;
    }
    this.mailbox.post(() => this.finish());
  }

  private async finish(): Promise<void> {
    const startedAt = performance.now();
    await this.partition.raw.stored();
    if (this.state !== 'ending' || !this.partition.owns()) {
      this.finishing = false;
      return;
    }
    const rawStoredAt = performance.now();
    await this.writeResults(1, true);
    this.state = 'ended';
    this.frozen = true;
    const ms = (from: number, to: number) => Math.round(to - from);
    const { size: participants } = this.standings;
    const timing = { rawStoredMs: ms(startedAt, rawStoredAt), resultsMs: ms(rawStoredAt, performance.now()) };
    this.log.info({ participants, ...timing }, 'session results frozen');
    // A hint for the API's freeze (it reads ClickHouse's final row before it trusts anything).
    const { nc, names } = this.deps;
    const notice: ResultsFinal = { sessionId: this.sessionId, participants };
    if (!nc.isClosed()) nc.publish(names.resultsFinal(this.sessionId), JSON.stringify(notice));
    this.close();
  }

  /**
   * Standings, changed minute buckets and the session row, through the partition's ResultsBatcher (`now`: at
   * once, else with the partition's other sessions); a periodic write is skipped while the previous one is
   * not stored yet. Resolves once stored.
   */
  private writeResults(final: 0 | 1, now: boolean): Promise<void> {
    if (final === 0 && (this.resultsPending || !this.following || this.state === 'waiting')) {
      return Promise.resolve();
    }
    if (!this.partition.owns()) return Promise.resolve();
    const nowMs = this.deps.now();
    const version = this.deps.versions.next(nowMs);
    const standings = this.standings.standingRows(version, final);
    // Only the buckets changed since the last write, the final one too: every bucket was stored when it last
    // changed (a restored or replayed actor starts with all of them changed), and the API reads each bucket's
    // newest version. A 30-minute class of 10,000 rewrote 300,000 rows at its end for nothing.
    const minutes = this.standings.takeChangedMinutes(version);
    const session = {
      session_id: this.sessionId,
      participants: this.standings.size,
      final,
      updated_at: Math.floor(nowMs / 1000),
      version,
    };
    this.resultsPending = true;
    const stored = this.partition.results.add(standings, minutes, session, nowMs, now);
    void stored.then(() => (this.resultsPending = false));
    return stored;
  }
}
