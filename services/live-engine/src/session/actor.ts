import type { JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { LiveMessage, RANK_SNAPSHOT_CHUNK, type NatsNames, type RatingRow } from '@pulse/contracts';
import type { Logger } from 'pino';
import { MalformedMessage } from '../errors.js';
import type { EngineMetrics } from '../metrics.js';
import type { SessionFeed } from '../nats/session-feed.js';
import type { AllowanceRule } from '../scoring/participant.js';
import { SessionStandings } from '../scoring/standings.js';
import { BatchWriter } from '../storage/batch-writer.js';
import type { ClickHouseStore } from '../storage/clickhouse.js';
import { Mailbox } from './mailbox.js';
import type { VersionClock } from './version-clock.js';

/** A rank snapshot goes out at least this often even when nothing changed (gateways promise ≥ 1 Hz). */
export const MAX_SNAPSHOT_GAP_MS = 1_000;
export const START_RETRY_MS = 1_000;
/** How often a live actor asks JetStream for its consumer's backlog (a metric). */
export const PENDING_PROBE_MS = 1_000;

export type ActorState = 'starting' | 'live' | 'ending' | 'ended' | 'stopped';

export interface ActorDeps {
  readonly nc: NatsConnection;
  readonly names: NatsNames;
  readonly store: ClickHouseStore;
  readonly metrics: EngineMetrics;
  readonly log: Logger;
  readonly versions: VersionClock;
  readonly now: () => number;
  readonly batchMaxRows: number;
  readonly flushMs: number;
  readonly snapshotChunk?: number;
  /** The score allowance (SCORE_ALLOWANCE in contracts unless configured). */
  readonly allowance?: AllowanceRule;
  /** Whether this engine may process the session now (its lease is valid); a single engine always may. */
  readonly owns?: (sessionId: string) => boolean;
}

/**
 * Owns one live session: its standings change only here, one mailbox task at a time. Ratings arrive from
 * the session's durable consumer; raw rows are batched to ClickHouse and their messages acked only once
 * stored. On (re)start the state is rebuilt by replaying what earlier engines consumed.
 */
export class SessionActor {
  state: ActorState = 'starting';
  readonly standings: SessionStandings;
  private readonly mailbox: Mailbox;
  private readonly writer: BatchWriter;
  private rows: RatingRow[] = [];
  private acks: JsMsg[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private tick = 0;
  private lastSnapshotAt = 0;
  private resultsPending = false;
  private lastPendingProbeAt = 0;
  /** Replay finished and the durable consumer is being followed. */
  private replayed = false;
  private finished: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(
    readonly sessionId: string,
    startedAtMs: number,
    minuteMs: number,
    private readonly feed: SessionFeed,
    private readonly deps: ActorDeps,
  ) {
    this.standings = new SessionStandings(sessionId, startedAtMs, minuteMs, deps.allowance);
    const log = deps.log.child({ sessionId });
    this.mailbox = new Mailbox(log);
    this.writer = new BatchWriter(log, deps.metrics);
    this.done = new Promise((resolve) => (this.finished = resolve));
  }

  /** Processes, publishes and writes only while this engine owns the session (see Ownership). */
  private get owned(): boolean {
    return this.deps.owns?.(this.sessionId) ?? true;
  }

  get degraded(): boolean {
    return this.writer.failing;
  }

  /** Rebuilds the state from the stream, then follows the durable consumer. */
  start(): void {
    this.mailbox.post(async () => {
      try {
        await this.rebuildAndFollow();
      } catch (err) {
        if (this.state === 'ended' || this.state === 'stopped') return;
        this.deps.log.error({ err, sessionId: this.sessionId }, 'session actor start failed; retrying');
        setTimeout(() => this.start(), START_RETRY_MS);
      }
    });
  }

  private async rebuildAndFollow(): Promise<void> {
    const start = await this.feed.open();
    if (!start.created) {
      const replayed = await this.feed.replay(start.delivered, (m) => this.handle(m, false, start.ackFloor));
      this.deps.metrics.ratingsProcessed.inc({ outcome: 'replayed' }, replayed);
      this.deps.log.info(
        { sessionId: this.sessionId, replayed, ...start },
        'session actor rebuilt from stream',
      );
    }
    if (this.state === 'ended' || this.state === 'stopped') return;
    if (this.state === 'starting') this.state = 'live';
    this.replayed = true;
    // One mailbox task per burst of delivered messages (those that arrive before the next turn of the event
    // loop), not one per message.
    let burst: JsMsg[] = [];
    const handleBurst = () => {
      const messages = burst;
      burst = [];
      this.mailbox.post(() => {
        for (const m of messages) this.handle(m, true, 0);
      });
    };
    await this.feed.consume((m) => {
      if (burst.length === 0) setImmediate(handleBurst);
      burst.push(m);
    });
  }

  /** Rank snapshot (when changed or due) and, for an ending session, the check whether it can freeze. */
  postTick(): void {
    this.mailbox.post(() => this.onTick());
  }

  postResultsFlush(): void {
    this.mailbox.post(() => this.writeResults(0));
  }

  /** The session ended: finish once everything stored before the end is processed, then freeze results. */
  end(): void {
    this.mailbox.post(() => {
      if (this.state === 'live' || this.state === 'starting') this.state = 'ending';
    });
  }

  /** Cancelled: forget the session (no results), delete its consumer. */
  cancel(): Promise<void> {
    this.mailbox.post(async () => {
      this.state = 'ended';
      this.writer.close();
      this.clearFlushTimer();
      await this.feed.remove();
      this.mailbox.close();
      this.finished?.();
    });
    return this.done;
  }

  /** Graceful shutdown: stop pulling, store and ack what is in hand, write non-final standings. */
  stop(): Promise<void> {
    this.mailbox.post(async () => {
      if (this.state === 'ended') return;
      this.state = 'stopped';
      await this.feed.stop();
      this.flushRatings();
      await this.writeResults(0);
      await this.writer.idle();
      this.mailbox.close();
      this.finished?.();
    });
    return this.done;
  }

  /**
   * The lease is lost (another engine may own the session): stop at once, write nothing, ack nothing. What
   * this actor held unacked is redelivered to the next owner, whose replay already counts it.
   */
  abandon(): Promise<void> {
    if (this.state !== 'ended') this.state = 'stopped';
    this.writer.close();
    this.clearFlushTimer();
    this.rows = [];
    this.acks = [];
    this.mailbox.post(async () => {
      await this.feed.stop();
      this.mailbox.close();
      this.finished?.();
    });
    return this.done;
  }

  /** Counts one message (`live`: from the durable consumer, to ack after storing). */
  private handle(m: JsMsg, live: boolean, ackFloor: number): void {
    if (this.state === 'ended' || this.state === 'stopped' || !this.owned) return;
    const parsed = LiveMessage.safeParse(safeJson(m));
    if (!parsed.success || parsed.data.sessionId !== this.sessionId) {
      const detail = parsed.success ? 'foreign session' : parsed.error.issues[0]?.message;
      this.deps.log.warn(
        { err: new MalformedMessage(m.subject, m.seq, String(detail)), sessionId: this.sessionId },
        'dropping message',
      );
      if (live) this.pushAck(m);
      return;
    }
    const msg = parsed.data;
    if (msg.kind === 'participant') {
      this.standings.join(msg.userId, msg.name, msg.weightKg);
    } else {
      const outcome = this.standings.rate(msg.userId, msg.seq, msg.energy, msg.ts);
      if (live) this.deps.metrics.ratingsProcessed.inc({ outcome });
      // Only counted ratings are stored, so raw rows and results agree. Replayed messages beyond the ack floor
      // may never have reached ClickHouse: store them (again).
      if (outcome === 'counted' && (live || m.seq > ackFloor)) {
        this.rows.push({
          session_id: msg.sessionId,
          user_id: msg.userId,
          seq: msg.seq,
          energy: msg.energy,
          ts: Math.floor(msg.ts / 1000),
          ts_ms: msg.ts,
          minute: this.standings.minuteOf(msg.ts),
        });
      }
    }
    if (live) this.pushAck(m);
    if (this.rows.length >= this.deps.batchMaxRows) this.flushRatings();
    else if (this.flushTimer === null && (this.rows.length > 0 || this.acks.length > 0)) {
      this.flushTimer = setTimeout(() => this.mailbox.post(() => this.flushRatings()), this.deps.flushMs);
    }
  }

  private pushAck(m: JsMsg): void {
    this.acks.push(m);
  }

  /** Hands the current raw batch to the writer; its messages are acked once ClickHouse stored it. */
  private flushRatings(): void {
    this.clearFlushTimer();
    if (this.rows.length === 0 && this.acks.length === 0) return;
    const rows = this.rows;
    const acks = this.acks;
    this.rows = [];
    this.acks = [];
    this.writer.enqueue(
      rows.length,
      () => this.deps.store.insertRatings(rows),
      () => {
        for (const m of acks) m.ack();
      },
    );
  }

  private async onTick(): Promise<void> {
    if (!this.replayed || !this.owned) return;
    if (this.state === 'live' || this.state === 'ending') this.publishSnapshot();
    if (this.state === 'ending') await this.tryFinish();
    else if (this.state === 'live' && this.deps.now() - this.lastPendingProbeAt >= PENDING_PROBE_MS) {
      this.lastPendingProbeAt = this.deps.now();
      // Not awaited: a JetStream API round trip must not hold up the ratings queued behind this tick.
      this.feed.info().then(
        (info) => this.deps.metrics.consumerPending.set({ session: this.sessionId }, info.num_pending),
        () => undefined,
      );
    }
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
   * Freezes the results once the durable consumer has nothing undelivered, every raw batch is stored, and
   * nothing delivered is unacked: every message was processed and stored by this actor, or by an earlier
   * owner (its state came back through the replay); what a dead owner held unacked is redelivered here first.
   * (Not `delivered.stream_seq`: for a filtered consumer the server advances it over other sessions' messages.)
   */
  private async tryFinish(): Promise<void> {
    const info = await this.feed.info();
    this.deps.metrics.consumerPending.set({ session: this.sessionId }, info.num_pending);
    if (info.num_pending > 0) return;
    this.flushRatings();
    await this.writer.idle();
    if (this.writer.failing) return;
    const settled = await this.feed.info(); // acks are fire-and-forget: a later tick sees them
    if (settled.num_pending > 0 || settled.num_ack_pending > 0) return;
    await this.feed.stop();
    await this.writeResults(1);
    await this.writer.idle();
    await this.feed.remove();
    this.state = 'ended';
    this.deps.log.info(
      { sessionId: this.sessionId, participants: this.standings.size },
      'session results frozen',
    );
    this.mailbox.close();
    this.finished?.();
  }

  /** Standings, changed minute buckets and the session row; skipped while a previous write is retrying. */
  private async writeResults(final: 0 | 1): Promise<void> {
    if (final === 0 && (this.resultsPending || !this.replayed)) return;
    if (!this.owned) return;
    const now = this.deps.now();
    const version = this.deps.versions.next(now);
    const standings = this.standings.standingRows(version, final);
    const minutes =
      final === 1 ? this.standings.allMinutes(version) : this.standings.takeChangedMinutes(version);
    const session = {
      session_id: this.sessionId,
      participants: this.standings.size,
      final,
      updated_at: Math.floor(now / 1000),
      version,
    };
    this.resultsPending = true;
    this.writer.enqueue(
      0,
      () => this.deps.store.insertResults(standings, minutes, session),
      () => (this.resultsPending = false),
    );
  }

  private clearFlushTimer(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }
}

function safeJson(m: JsMsg): unknown {
  try {
    return m.json();
  } catch {
    return undefined;
  }
}
