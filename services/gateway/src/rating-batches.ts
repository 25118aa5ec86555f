import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import {
  encodeRatingBatch,
  partitionOf,
  ratingBatchMsgId,
  type NatsNames,
  type RatingMessage,
} from '@pulse/contracts';
import { PublishFailed, PublishQueueFull } from './errors.js';
import type { GatewayMetrics } from './metrics.js';

export interface RatingBatchOptions {
  /** A batch is published this long after its first rating (or when it is full). */
  readonly windowMs: number;
  readonly maxRatings: number;
  /** Wait for JetStream's ack before the batch's ratings are refused (UNAVAILABLE). */
  readonly timeoutMs: number;
  /** Ratings waiting in open or unacknowledged batches; beyond it a rating is refused at once. */
  readonly queueMax: number;
}

interface Waiter {
  readonly seq: number;
  resolve(): void;
  reject(err: Error): void;
}

interface OpenBatch {
  readonly partition: number;
  readonly bySession: Map<string, RatingMessage[]>;
  readonly waiters: Waiter[];
  readonly openedAtMs: number;
}

/**
 * This gateway's ratings on their way to JetStream, one message per (partition, window): every rating of a
 * partition that arrives within `windowMs` goes into one batch message (issue 12: a message per rating cost
 * NATS and the client 5–15× as much). One window for every partition: the first rating into an empty window
 * starts it and its end publishes every open batch together, so their publishes leave in one socket write
 * (nats.js writes once per turn of the event loop); a timer per partition made up to 16 writes per window. A
 * rating's promise settles with its batch: resolved once JetStream stored it, rejected (PublishFailed) when it
 * could not, so a device is never told a rating was taken that can be lost.
 */
export class RatingBatches {
  private readonly open = new Map<number, OpenBatch>();
  private window: NodeJS.Timeout | null = null;
  /** Distinguishes this process from an earlier one with the same gateway id in the batch message ids. */
  private readonly incarnation = randomUUID().slice(0, 8);
  private batchSeq = 0;
  private waiting = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly gatewayId: string,
    private readonly options: RatingBatchOptions,
    private readonly metrics: GatewayMetrics,
  ) {}

  get pending(): number {
    return this.waiting;
  }

  /** Resolves once the rating is stored in JetStream; rejects with a GatewayError carrying its seq. */
  add(rating: RatingMessage): Promise<void> {
    if (this.waiting >= this.options.queueMax) return Promise.reject(new PublishQueueFull(rating.seq));
    const partition = partitionOf(rating.sessionId);
    let batch = this.open.get(partition);
    if (batch === undefined) {
      batch = { partition, bySession: new Map(), waiters: [], openedAtMs: performance.now() };
      this.open.set(partition, batch);
      this.window ??= setTimeout(() => this.flushAll(), this.options.windowMs);
    }
    const list = batch.bySession.get(rating.sessionId);
    if (list === undefined) batch.bySession.set(rating.sessionId, [rating]);
    else list.push(rating);
    this.waiting += 1;
    const done = new Promise<void>((resolve, reject) =>
      batch.waiters.push({ seq: rating.seq, resolve, reject }),
    );
    if (batch.waiters.length >= this.options.maxRatings) this.flush(batch);
    return done;
  }

  /** Publishes every open batch now and resolves once every batch has settled (shutdown). */
  idle(): Promise<void> {
    this.flushAll();
    if (this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The window ended: every open batch is published (the last one closes the window). */
  private flushAll(): void {
    for (const batch of [...this.open.values()]) this.flush(batch);
  }

  /** Publishes one batch; the window closes with the last open batch (a full one may go before it ends). */
  private flush(batch: OpenBatch): void {
    if (this.open.get(batch.partition) !== batch) return;
    this.open.delete(batch.partition);
    if (this.open.size === 0 && this.window !== null) {
      clearTimeout(this.window);
      this.window = null;
    }
    void this.send(batch);
  }

  private async send(batch: OpenBatch): Promise<void> {
    const seq = ++this.batchSeq;
    try {
      await this.js.publish(
        this.names.ratingBatch(batch.partition, this.gatewayId),
        encodeRatingBatch(batch.bySession),
        {
          msgID: ratingBatchMsgId(this.gatewayId, this.incarnation, batch.partition, seq),
          timeout: this.options.timeoutMs,
        },
      );
      this.metrics.publishLatency.observe((performance.now() - batch.openedAtMs) / 1000);
      this.metrics.batchesPublished.inc();
      for (const w of batch.waiters) w.resolve();
    } catch (err) {
      for (const w of batch.waiters) w.reject(new PublishFailed(w.seq, err));
    } finally {
      this.waiting -= batch.waiters.length;
      if (this.waiting === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}
