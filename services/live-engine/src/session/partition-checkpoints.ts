import type { Logger } from 'pino';
import { CheckpointUnusable } from '../errors.js';
import type { EngineMetrics } from '../metrics.js';
import type { CheckpointStore } from '../nats/checkpoint-store.js';
import type { FeedStart } from '../nats/partition-feed.js';
import type { AllowanceRule } from '../scoring/participant.js';
import {
  CHECKPOINT_VERSION,
  checkCompatible,
  decodeCheckpoint,
  encodeCheckpoint,
  type PartitionCheckpoint,
} from './checkpoint.js';
import type { OwnedPartition } from './owned-partition.js';
import type { ActorRegistry } from './registry.js';

/**
 * Default of CHECKPOINT_INTERVAL_MS: a takeover replays at most about this much of a partition's stream. 30 s
 * of a 5,000-participant session took 1.5 s to replay on the 2-core box and the failover 5.3 s; 10 s keeps it
 * within 5 s (docs/FAULTS.md), for ~50 ms of CPU per checkpoint of 10,000 participants.
 */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 10_000;

export interface PartitionCheckpointsOptions {
  readonly store: CheckpointStore;
  readonly registry: ActorRegistry;
  /** Whether an ended session's results are frozen (ClickHouse). */
  readonly isFinal: (sessionId: string) => Promise<boolean>;
  readonly engineId: string;
  /** The rules the engine counts under (a checkpoint counted under others is not restored). */
  readonly minuteMs: number;
  readonly allowance: AllowanceRule;
  readonly metrics: EngineMetrics;
  readonly log: Logger;
  readonly now: () => number;
}

/**
 * Partition checkpoints (issue 14): a partition this engine follows writes its actors' state periodically and
 * at a handover; a takeover restores the latest and replays only the stream after it. A missing, corrupt or
 * incompatible checkpoint means a full replay, with a warning and a metric.
 */
export class PartitionCheckpoints {
  constructor(private readonly options: PartitionCheckpointsOptions) {}

  /**
   * Restores the partition's checkpoint into its actors, if one can be used on top of this consumer's history;
   * returns it (null: replay the whole partition).
   */
  async restore(owned: OwnedPartition, start: FeedStart): Promise<PartitionCheckpoint | null> {
    const { registry, log } = this.options;
    const checkpoint = await this.load(owned.partition, start);
    if (checkpoint === null || owned.closing) return null;
    if (!(await this.closeFrozen(owned.partition, checkpoint).catch(() => false))) {
      log.warn(
        { partition: owned.partition },
        'cannot tell which sessions are final; replaying the whole partition',
      );
      this.options.metrics.checkpointFallbacks.inc({ reason: 'unverified' });
      return null;
    }
    for (const actor of checkpoint.actors) registry.restore(actor, owned);
    owned.routedStreamSeq = checkpoint.coveredSeq;
    return checkpoint;
  }

  /**
   * Writes the partition's checkpoint: its actors' state at one cut of its stream, `coveredSeq`.
   *
   * The cut: every actor is asked in the same turn of the event loop as `routedStreamSeq` is read, and its
   * mailbox answers after every message routed to it before and before any routed after. So the state holds
   * exactly the messages with stream sequence <= coveredSeq (first deliveries come in stream order; a
   * redelivery is of a message already applied here or by the replay or checkpoint this engine started from).
   *
   * Raw rows neither lost nor doubled: the checkpoint is stored only after `raw.stored()`, i.e. once every raw
   * row the actors handed over before the cut is in ClickHouse — so "every rating counted from a message
   * <= coveredSeq has its row stored" holds for every stored checkpoint, whatever the consumer's ack floor
   * says (acks are fire-and-forget and trail the inserts). A new owner restores the state, replays only
   * (coveredSeq, delivered] with the old rule (re-store a counted rating above the ack floor: it may never
   * have reached ClickHouse; a second copy collapses in the ReplacingMergeTree), and the dead owner's unacked
   * messages that JetStream redelivers are duplicates by seq: acked, not stored. A rating held unprocessed
   * (its session's start unknown) was neither counted nor stored: the checkpoint keeps it, and it is stored
   * when it counts. A lost lease closes the raw batcher, which resolves `stored()` with rows unstored: then
   * nothing is written. An older checkpoint overwriting a newer one (a slow write of an engine that lost the
   * lease) is still true, only longer to replay after.
   */
  async write(owned: OwnedPartition, handover: boolean): Promise<void> {
    const { metrics, registry } = this.options;
    if (!owned.following || owned.stopped) return;
    if (!handover && (owned.closing || !owned.link.owns())) return;
    owned.checkpointing = true;
    try {
      const started = performance.now();
      const coveredSeq = owned.routedStreamSeq;
      const actors = await Promise.all(registry.inPartition(owned.partition).map((a) => a.checkpoint()));
      const captured = performance.now();
      metrics.checkpointSeconds.observe({ stage: 'capture' }, (captured - started) / 1000);
      await owned.raw.stored();
      metrics.checkpointSeconds.observe({ stage: 'rows' }, (performance.now() - captured) / 1000);
      // A periodic write gives way to the handover's (newer) one and to a lost lease.
      if (owned.stopped || (!handover && (owned.closing || !owned.link.owns()))) return;
      await this.save({
        version: CHECKPOINT_VERSION,
        partition: owned.partition,
        coveredSeq,
        consumerCreated: owned.consumerCreated,
        minuteMs: this.options.minuteMs,
        allowance: { ratePerSec: this.options.allowance.ratePerSec, burst: this.options.allowance.burst },
        engineId: this.options.engineId,
        writtenAtMs: this.options.now(),
        actors: actors.filter((a) => a !== null),
      });
    } finally {
      owned.checkpointing = false;
    }
  }

  /** The partition's stored checkpoint if it describes this consumer's history under these rules, else null. */
  private async load(partition: number, start: FeedStart): Promise<PartitionCheckpoint | null> {
    const { store, metrics, log } = this.options;
    let reason: string;
    try {
      const bytes = await store.load(partition);
      if (bytes === null) {
        reason = 'missing';
        log.info({ partition }, 'no partition checkpoint; replaying the whole partition');
      } else {
        const checkpoint = await decodeCheckpoint(partition, bytes);
        checkCompatible(checkpoint, {
          consumerCreated: start.consumerCreated,
          delivered: start.delivered,
          minuteMs: this.options.minuteMs,
          allowance: this.options.allowance,
        });
        metrics.checkpointAgeSeconds.observe((this.options.now() - checkpoint.writtenAtMs) / 1000);
        return checkpoint;
      }
    } catch (err) {
      reason = err instanceof CheckpointUnusable ? err.problem : 'unreadable';
      log.warn({ err, partition }, 'partition checkpoint not used; replaying the whole partition');
    }
    metrics.checkpointFallbacks.inc({ reason });
    return null;
  }

  /**
   * An ended session of the partition that is not in the checkpoint either froze its results before the cut
   * (its actor was gone) or started after it (all its messages are in the tail). Only the second may get an
   * actor: a fresh one for the first would finish again from the tail alone and overwrite its final results
   * (a standby engine learns of an end before the owner freezes, so it does not know that it froze).
   * False when ClickHouse cannot tell.
   */
  private async closeFrozen(partition: number, checkpoint: PartitionCheckpoint): Promise<boolean> {
    const { registry, isFinal } = this.options;
    const inCheckpoint = new Set(checkpoint.actors.map((a) => a.sessionId));
    for (const sessionId of registry.endedWithoutActor(partition)) {
      if (!inCheckpoint.has(sessionId) && (await isFinal(sessionId))) registry.close(sessionId);
    }
    return true;
  }

  /** Encodes and stores one checkpoint; a failure is counted and logged, never thrown (the previous one stays). */
  private async save(checkpoint: PartitionCheckpoint): Promise<void> {
    const { store, metrics, log } = this.options;
    const partition = checkpoint.partition;
    try {
      const encodeStarted = performance.now();
      const bytes = await encodeCheckpoint(checkpoint);
      const writeStarted = performance.now();
      metrics.checkpointSeconds.observe({ stage: 'encode' }, (writeStarted - encodeStarted) / 1000);
      await store.save(partition, bytes);
      metrics.checkpointSeconds.observe({ stage: 'write' }, (performance.now() - writeStarted) / 1000);
      metrics.checkpointBytes.observe(bytes.byteLength);
      log.debug(
        {
          partition,
          coveredSeq: checkpoint.coveredSeq,
          actors: checkpoint.actors.length,
          bytes: bytes.byteLength,
        },
        'partition checkpoint stored',
      );
    } catch (err) {
      metrics.checkpointFailures.inc();
      log.warn({ err, partition }, 'partition checkpoint not stored; the previous one stays');
    }
  }
}
