import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { PublishFailed, PublishQueueFull } from './errors.js';
import type { GatewayMetrics } from './metrics.js';

interface Job {
  subject: string;
  payload: string;
  msgID: string;
  seq: number | undefined;
  queuedAtMs: number;
  resolve: (ack: PubAck) => void;
  reject: (err: Error) => void;
}

export interface PublisherOptions {
  windowSize: number;
  queueMax: number;
  timeoutMs: number;
}

/**
 * JetStream async publishing with a bounded window: at most `windowSize` publishes wait for their ack,
 * at most `queueMax` more wait for a slot. Beyond that a publish is refused at once (PublishQueueFull);
 * a publish that is not acked in time fails with PublishFailed. Nothing is dropped silently.
 */
export class Publisher {
  private inFlight = 0;
  private readonly queue: Job[] = [];
  private head = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly js: JetStreamClient,
    private readonly opts: PublisherOptions,
    private readonly metrics: GatewayMetrics,
  ) {}

  get pending(): number {
    return this.inFlight + this.queue.length - this.head;
  }

  publish(subject: string, payload: string, msgID: string, seq?: number): Promise<PubAck> {
    if (this.queue.length - this.head >= this.opts.queueMax && this.inFlight >= this.opts.windowSize) {
      return Promise.reject(new PublishQueueFull(seq));
    }
    return new Promise<PubAck>((resolve, reject) => {
      this.queue.push({ subject, payload, msgID, seq, queuedAtMs: performance.now(), resolve, reject });
      this.pump();
    });
  }

  /** Resolves once every queued and in-flight publish has settled. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < this.opts.windowSize && this.head < this.queue.length) {
      const job = this.queue[this.head];
      this.queue[this.head++] = undefined as unknown as Job;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.inFlight += 1;
      void this.send(job);
    }
  }

  private async send(job: Job): Promise<void> {
    try {
      const ack = await this.js.publish(job.subject, job.payload, {
        msgID: job.msgID,
        timeout: this.opts.timeoutMs,
      });
      this.metrics.publishLatency.observe((performance.now() - job.queuedAtMs) / 1000);
      job.resolve(ack);
    } catch (err) {
      job.reject(new PublishFailed(job.seq, err));
    } finally {
      this.inFlight -= 1;
      this.pump();
      if (this.pending === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}
