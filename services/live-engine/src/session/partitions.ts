import type { JsMsg } from '@nats-io/jetstream';
import {
  LiveMessage,
  RATING_BATCH_TOKEN,
  RATING_PARTITIONS,
  decodeRatingBatch,
  partitionOf,
  type SessionSnapshot,
} from '@pulse/contracts';
import type { Logger } from 'pino';
import { MalformedMessage } from '../errors.js';
import type { EngineMetrics } from '../metrics.js';
import type { LastSeqAnswer, Responder } from '../nats/last-seq-responder.js';
import type { FeedStart, PartitionInput } from '../nats/partition-feed.js';
import { SharedAck, type RawBatcher } from '../storage/raw-batcher.js';
import type { ResultsBatcher } from '../storage/results-batcher.js';
import type { EntryGroup } from './actor.js';
import type { Ownership, OwnershipListener, ReleaseReason } from './ownership.js';
import type { PartitionCheckpoint } from './checkpoint.js';
import type { PartitionCheckpoints } from './partition-checkpoints.js';
import { OwnedPartition } from './owned-partition.js';
import type { ActorRegistry } from './registry.js';

export const START_RETRY_MS = 1_000;
/** Delivered messages routed in one pass (one mailbox task per session); more wait for the next turn of the loop. */
const BURST_MAX_MESSAGES = 100;
/** How often the backlog of each owned partition is read into a metric. */
const PENDING_PROBE_MS = 1_000;

/** The ownership key of a partition (a KV key token). */
export const partitionKey = (partition: number): string => `p${partition}`;

/** The partition of an ownership key, or undefined for a key that is not one. */
export function partitionOfKey(key: string): number | undefined {
  const n = /^p(\d+)$/.exec(key) ? Number(key.slice(1)) : NaN;
  return Number.isInteger(n) && n >= 0 && n < RATING_PARTITIONS ? n : undefined;
}

/**
 * What one message carries, by session: a gateway's batch (`<ns>.ratings.<p>.batch.<gateway>`) holds ratings of
 * several sessions; a participant or single rating message (`<ns>.ratings.<p>.<session>.<user>[.joined]`) one.
 * Undefined, with the reason, for a message that is not one of those.
 */
export function decodeMessage(
  subject: string,
  data: string,
): { ok: true; sessions: Map<string, LiveMessage[]> } | { ok: false; error: string } {
  if (subject.split('.', 4)[3] === RATING_BATCH_TOKEN) return decodeRatingBatch(data);
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const parsed = LiveMessage.safeParse(body);
  if (!parsed.success) return { ok: false, error: parsed.error.issues[0]?.message ?? 'invalid' };
  return { ok: true, sessions: new Map([[parsed.data.sessionId, [parsed.data]]]) };
}

export interface PartitionsDeps {
  readonly registry: ActorRegistry;
  readonly ownership: Ownership;
  readonly inputFor: (partition: number) => PartitionInput;
  readonly rawFor: (partition: number) => RawBatcher;
  readonly resultsFor: (partition: number) => ResultsBatcher;
  /** Answers the gateways' lastSeq requests for a partition while this engine follows it. */
  readonly serveLastSeq: (partition: number, answer: LastSeqAnswer) => Responder;
  /** Partition checkpoints (issue 14); undefined: none (CHECKPOINT_INTERVAL_MS=0), every takeover replays all. */
  readonly checkpoints?: PartitionCheckpoints;
  readonly metrics: EngineMetrics;
  readonly log: Logger;
}

/**
 * The partitions this engine runs, as the Ownership hands them over: for each one a durable consumer that
 * feeds the actors of its sessions (after replaying what earlier owners consumed), and one raw batcher.
 * A session costs nothing here until its first message or lifecycle event: its actor is created then.
 */
export class Partitions implements OwnershipListener {
  private readonly owned = new Map<number, OwnedPartition>();

  constructor(private readonly deps: PartitionsDeps) {}

  /** A lifecycle change from the session events (see nats/discovery.ts). */
  onSession(session: SessionSnapshot): void {
    this.deps.registry.update(session, this.owned.get(partitionOf(session.id)));
  }

  /** Whether a session has an actor here (an ended one without an actor is checked for final results). */
  hasActor(sessionId: string): boolean {
    return this.deps.registry.get(sessionId) !== undefined;
  }

  /** An ended session whose results are final already: nothing to run, late messages dropped. */
  onFinal(sessionId: string): void {
    this.deps.registry.close(sessionId);
  }

  /** Every owned partition, for the engine-wide tick. */
  tick(nowMs: number): void {
    for (const p of this.owned.values()) {
      p.raw.tick(nowMs);
      p.results.tick(nowMs);
      if (p.following && nowMs - p.lastPendingProbeAt >= PENDING_PROBE_MS) {
        p.lastPendingProbeAt = nowMs;
        p.input.info().then(
          (info) => this.deps.metrics.consumerPending.set({ partition: p.partition }, info.num_pending),
          () => undefined,
        );
      }
    }
  }

  get degraded(): number[] {
    return [...this.owned.values()].filter((p) => p.raw.failing || p.results.failing).map((p) => p.partition);
  }

  /** Every owned partition that follows its consumer writes a checkpoint (CHECKPOINT_INTERVAL_MS). */
  async checkpointAll(): Promise<void> {
    const due = [...this.owned.values()].filter((p) => !p.checkpointing);
    await Promise.all(due.map((p) => this.deps.checkpoints?.write(p, false)));
  }

  acquired(key: string): void {
    const partition = partitionOfKey(key);
    if (partition === undefined || this.owned.has(partition)) return;
    const owned = new OwnedPartition(
      partition,
      this.deps.inputFor(partition),
      this.deps.rawFor(partition),
      this.deps.resultsFor(partition),
      this.deps.ownership,
      key,
    );
    this.owned.set(partition, owned);
    void this.start(owned);
  }

  async released(key: string, reason: ReleaseReason): Promise<void> {
    const partition = partitionOfKey(key);
    const owned = partition === undefined ? undefined : this.owned.get(partition);
    if (owned === undefined) return;
    this.deps.log.info({ partition, reason }, 'partition moves to another engine');
    await this.stop(owned, reason);
  }

  /** Graceful shutdown: every partition stops pulling, its actors write standings, its rows are stored. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.owned.values()].map((p) => this.stop(p, 'handover')));
  }

  /**
   * Restores the partition's latest checkpoint and replays what earlier owners consumed after it (all of it
   * without a checkpoint), then follows the durable consumer.
   */
  private async start(owned: OwnedPartition): Promise<void> {
    const { registry, log } = this.deps;
    try {
      const start = await owned.input.open();
      owned.consumerCreated = start.consumerCreated;
      // A quiet partition taken over after a crash gets no new delivery: what the dead owner was delivered is
      // counted by the replay, so the partition is caught up once nothing newer is pending (issue 12 e2e).
      owned.routedConsumerSeq = start.deliveredConsumerSeq;
      const startedAt = performance.now();
      const checkpoint = start.created
        ? null
        : ((await this.deps.checkpoints?.restore(owned, start)) ?? null);
      registry.adopt(owned.partition, owned);
      // lastSeq answers from here on: during the replay an answer may be below what is stored, which is
      // harmless (the device resends a few ratings the engine then ignores); it is never above.
      owned.responder = this.deps.serveLastSeq(owned.partition, (sessionId, userId) =>
        registry.lastSeqOf(sessionId, userId),
      );
      if (!start.created && !owned.closing) await this.replay(owned, start, checkpoint, startedAt);
      if (owned.closing) return;
      owned.following = true;
      for (const actor of registry.inPartition(owned.partition)) actor.follow();
      await owned.input.consume(this.burstsOf(owned));
      if (owned.closing) await owned.input.stop(); // stopped while the consumer was being set up
    } catch (err) {
      if (owned.closing) return;
      log.error({ err, partition: owned.partition }, 'partition start failed; retrying');
      // Fresh state for the retry: the actors' state may hold part of a replay.
      await this.stop(owned, 'lost');
      setTimeout(() => this.acquired(partitionKey(owned.partition)), START_RETRY_MS);
    }
  }

  /** Replays the partition's messages after the checkpoint (or all) up to the last one any owner was delivered. */
  private async replay(
    owned: OwnedPartition,
    start: FeedStart,
    checkpoint: PartitionCheckpoint | null,
    startedAt: number,
  ) {
    const { metrics, log } = this.deps;
    const checkpointSeq = checkpoint?.coveredSeq ?? null;
    const replayed = await owned.input.replay(
      { afterSeq: checkpointSeq ?? 0, untilSeq: start.delivered },
      (m) => this.route(owned, [m], false, start.ackFloor),
    );
    metrics.ratingsProcessed.inc({ outcome: 'replayed' }, replayed);
    metrics.takeoverReplayed.observe({ from: checkpoint === null ? 'stream_start' : 'checkpoint' }, replayed);
    const rebuildMs = Math.round(performance.now() - startedAt);
    const checkpointAgeMs = checkpoint === null ? null : Date.now() - checkpoint.writtenAtMs;
    log.info(
      { partition: owned.partition, checkpointSeq, checkpointAgeMs, replayed, rebuildMs, ...start },
      checkpoint === null
        ? 'partition rebuilt from the stream'
        : 'partition restored from its checkpoint and the stream tail',
    );
  }

  /**
   * One routing pass per burst of delivered messages (those that arrive before the next turn of the loop), at most
   * BURST_MAX_MESSAGES at a time, the rest on the next turns: a whole pull of a backlog (2,000 gateway batches,
   * ~500,000 ratings) in one pass held the event loop for seconds and the lease renewals with it.
   */
  private burstsOf(owned: OwnedPartition): (m: JsMsg) => void {
    let burst: JsMsg[] = [];
    const flush = () => {
      let messages = burst;
      if (burst.length > BURST_MAX_MESSAGES) {
        messages = burst.slice(0, BURST_MAX_MESSAGES);
        burst = burst.slice(BURST_MAX_MESSAGES);
        setImmediate(flush);
      } else {
        burst = [];
      }
      if (!owned.closing) this.route(owned, messages, true, 0);
    };
    return (m) => {
      if (burst.length === 0) setImmediate(flush);
      burst.push(m);
    };
  }

  /** Hands each session's part of the messages to its actor, in stream order; a closed session's is acked. */
  private route(owned: OwnedPartition, messages: JsMsg[], live: boolean, ackFloor: number): void {
    // A partition that stopped (lost mid-replay) routes nothing: an actor created now would be bound to it and
    // stay in the registry, deaf, when the partition is acquired again.
    if (owned.closing) return;
    const bySession = new Map<string, EntryGroup[]>();
    for (const m of messages) {
      if (m.seq > owned.routedStreamSeq) owned.routedStreamSeq = m.seq;
      if (live && m.info.deliverySequence > owned.routedConsumerSeq) {
        owned.routedConsumerSeq = m.info.deliverySequence;
      }
      const decoded = decodeMessage(m.subject, m.string());
      if (!decoded.ok || decoded.sessions.size === 0) {
        if (!decoded.ok) {
          const err = new MalformedMessage(m.subject, m.seq, decoded.error);
          this.deps.log.warn({ err, partition: owned.partition }, 'dropping message');
        }
        if (live) m.ack();
        continue;
      }
      const ack = !live ? null : decoded.sessions.size === 1 ? m : new SharedAck(m, decoded.sessions.size);
      for (const [sessionId, entries] of decoded.sessions) {
        const group = { entries, streamSeq: m.seq, ack };
        const list = bySession.get(sessionId);
        if (list === undefined) bySession.set(sessionId, [group]);
        else list.push(group);
      }
    }
    for (const [sessionId, groups] of bySession) {
      const actor = this.deps.registry.actorFor(sessionId, owned);
      if (actor !== undefined) actor.deliver(groups, live, ackFloor);
      else for (const g of groups) g.ack?.ack();
    }
  }

  /** Stops pulling; a handover lets the actors write standings and stores (acks) the rows; a loss drops all. */
  private async stop(owned: OwnedPartition, reason: ReleaseReason): Promise<void> {
    owned.closing = true;
    owned.responder?.stop();
    if (reason === 'lost') owned.stopped = true;
    if (this.owned.get(owned.partition) === owned) this.owned.delete(owned.partition);
    await owned.input.stop().catch(() => undefined);
    const actors = this.deps.registry.inPartition(owned.partition);
    if (reason === 'handover') {
      // The actors are asked for their state before they stop (their mailboxes run the two in that order).
      const checkpoint = this.deps.checkpoints?.write(owned, true);
      await Promise.all(actors.map((a) => a.stop()));
      await Promise.all([owned.raw.stored(), owned.results.drained(), checkpoint]);
    } else {
      await Promise.all(actors.map((a) => a.abandon()));
      owned.raw.close();
      owned.results.close();
    }
    owned.stopped = true;
    this.deps.metrics.consumerPending.remove({ partition: owned.partition });
  }
}
