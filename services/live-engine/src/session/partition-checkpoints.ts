import type { Logger } from 'pino';
import { CheckpointUnusable } from '../errors.js';
import type { EngineMetrics } from '../metrics.js';
import type { CheckpointStore } from '../nats/checkpoint-store.js';
import type { AllowanceRule } from '../scoring/participant.js';
import {
  CHECKPOINT_VERSION,
  checkCompatible,
  decodeCheckpoint,
  encodeCheckpoint,
  type ActorCheckpoint,
  type PartitionCheckpoint,
} from './checkpoint.js';

/** Default of CHECKPOINT_INTERVAL_MS: a takeover replays at most about this much of a partition's stream. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 30_000;

export interface PartitionCheckpointsOptions {
  readonly store: CheckpointStore;
  readonly engineId: string;
  /** The rules the engine counts under (a checkpoint counted under others is not restored). */
  readonly minuteMs: number;
  readonly allowance: AllowanceRule;
  readonly metrics: EngineMetrics;
  readonly log: Logger;
  readonly now: () => number;
}

/** Where a takeover's durable consumer stood (see nats/partition-feed.ts FeedStart). */
export interface ConsumerPosition {
  readonly consumerCreated: string;
  readonly delivered: number;
}

/** The actors of one partition at one cut of its stream (taken by Partitions.checkpoint). */
export interface PartitionCut {
  readonly partition: number;
  readonly coveredSeq: number;
  readonly consumerCreated: string;
  readonly actors: ActorCheckpoint[];
}

/**
 * Reads and writes partition checkpoints (issue 14): a takeover restores the latest one and replays only the
 * stream after it; a missing, corrupt or incompatible one means a full replay, with a warning and a metric.
 */
export class PartitionCheckpoints {
  constructor(private readonly options: PartitionCheckpointsOptions) {}

  /** The partition's checkpoint if it can be restored on top of this consumer's history, else null. */
  async load(partition: number, position: ConsumerPosition): Promise<PartitionCheckpoint | null> {
    const { store, metrics, log } = this.options;
    let reason: string;
    try {
      const bytes = await store.load(partition);
      if (bytes === null) {
        reason = 'missing';
      } else {
        const checkpoint = await decodeCheckpoint(partition, bytes);
        checkCompatible(checkpoint, {
          ...position,
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
    if (reason === 'missing')
      log.info({ partition }, 'no partition checkpoint; replaying the whole partition');
    return null;
  }

  /** Encodes and stores one cut; resolves once stored (a failure is counted and logged, never thrown). */
  async save(cut: PartitionCut): Promise<void> {
    const { store, metrics, log } = this.options;
    const checkpoint: PartitionCheckpoint = {
      version: CHECKPOINT_VERSION,
      ...cut,
      minuteMs: this.options.minuteMs,
      allowance: { ratePerSec: this.options.allowance.ratePerSec, burst: this.options.allowance.burst },
      engineId: this.options.engineId,
      writtenAtMs: this.options.now(),
    };
    try {
      const encodeStarted = performance.now();
      const bytes = await encodeCheckpoint(checkpoint);
      const writeStarted = performance.now();
      metrics.checkpointSeconds.observe({ stage: 'encode' }, (writeStarted - encodeStarted) / 1000);
      await store.save(cut.partition, bytes);
      metrics.checkpointSeconds.observe({ stage: 'write' }, (performance.now() - writeStarted) / 1000);
      metrics.checkpointBytes.observe(bytes.byteLength);
      log.debug(
        {
          partition: cut.partition,
          coveredSeq: cut.coveredSeq,
          actors: cut.actors.length,
          bytes: bytes.byteLength,
        },
        'partition checkpoint stored',
      );
    } catch (err) {
      metrics.checkpointFailures.inc();
      log.warn({ err, partition: cut.partition }, 'partition checkpoint not stored; the previous one stays');
    }
  }
}
