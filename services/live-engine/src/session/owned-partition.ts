import type { PartitionInput } from '../nats/partition-feed.js';
import type { Responder } from '../nats/last-seq-responder.js';
import type { RawBatcher } from '../storage/raw-batcher.js';
import type { ResultsBatcher } from '../storage/results-batcher.js';
import type { PartitionLink } from './actor.js';
import type { Ownership } from './ownership.js';
import type { PartitionHandle } from './registry.js';

/** How long one "is the partition caught up?" answer is shared by the actors asking (one API call). */
const CAUGHT_UP_REUSE_MS = 100;

/**
 * One partition this engine runs: its input, raw and results batchers, the link its actors get, and where its
 * routing stands (see session/partitions.ts).
 */
export class OwnedPartition implements PartitionHandle {
  following = false;
  /** No longer routing delivered messages (stopping). */
  closing = false;
  /** No longer this engine's: actors process, publish and write nothing. */
  stopped = false;
  /** Highest consumer sequence of a live message routed to an actor. */
  routedConsumerSeq = 0;
  /** Highest stream sequence applied to the actors (routed, replayed, or covered by the restored checkpoint). */
  routedStreamSeq = 0;
  consumerCreated = '';
  checkpointing = false;
  lastPendingProbeAt = 0;
  responder: Responder | null = null;
  caughtUpProbe: { atMs: number; answer: Promise<boolean> } | null = null;
  readonly link: PartitionLink;

  constructor(
    readonly partition: number,
    readonly input: PartitionInput,
    readonly raw: RawBatcher,
    readonly results: ResultsBatcher,
    ownership: Ownership,
    key: string,
  ) {
    this.link = {
      raw,
      results,
      owns: () => !this.stopped && ownership.owns(key),
      caughtUp: () => this.caughtUp(),
    };
  }

  /**
   * Nothing undelivered in JetStream and every delivered message routed to its actor: compares the consumer
   * sequence the server last delivered with the highest one this engine routed (redeliveries included).
   */
  private caughtUp(): Promise<boolean> {
    const nowMs = Date.now();
    if (this.caughtUpProbe !== null && nowMs - this.caughtUpProbe.atMs < CAUGHT_UP_REUSE_MS) {
      return this.caughtUpProbe.answer;
    }
    const answer = this.input
      .info()
      .then((info) => info.num_pending === 0 && this.routedConsumerSeq >= info.delivered.consumer_seq);
    this.caughtUpProbe = { atMs: nowMs, answer };
    return answer;
  }
}
