import type { Logger } from 'pino';
import type { EngineMetrics } from '../metrics.js';

export const RETRY_BASE_MS = 100;
export const RETRY_MAX_MS = 5_000;

interface WriteJob {
  /** Stores the job's rows; resolves with how many it wrote (the batch-size metric). */
  readonly write: () => Promise<number>;
  readonly onStored: () => void;
}

/**
 * Runs one session's ClickHouse writes one after another, each retried with exponential backoff until it is
 * stored; only then does it call `onStored` (which acks the JetStream messages). Writes never block the
 * session's mailbox: live ranks go on while ClickHouse is down, and JetStream keeps what is unacked.
 */
export class BatchWriter {
  private readonly queue: WriteJob[] = [];
  private running = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  /** True while the head job is failing (readiness reports it as degraded). */
  failing = false;

  constructor(
    private readonly log: Logger,
    private readonly metrics: EngineMetrics,
  ) {}

  get queued(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /**
   * Queues a write whose content is taken when its turn comes, not now: `take` runs once, at the first attempt (a
   * retry writes what it took), so a batcher goes on adding to what its queued write will carry. `write` resolves
   * with how many rows it stored; `onStored` gets what was taken once it is stored.
   */
  enqueue<T>(take: () => T, write: (taken: T) => Promise<number>, onStored: (taken: T) => void): void {
    if (this.closed) return; // not stored, not acked: JetStream redelivers to whoever consumes next
    let taken: { value: T } | undefined;
    this.queue.push({
      write: () => write((taken ??= { value: take() }).value),
      onStored: () => onStored(taken!.value),
    });
    if (!this.running) void this.drain();
  }

  /** Resolves once every queued write is stored (or the writer was closed). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying: queued writes are dropped unacked (safe: they are redelivered and rewritten). */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0 && !this.closed) {
      const job = this.queue.shift()!;
      if (await this.store(job)) job.onStored();
    }
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async store(job: WriteJob): Promise<boolean> {
    for (let attempt = 0; !this.closed; attempt++) {
      const started = performance.now();
      try {
        const rows = await job.write();
        this.metrics.insertSeconds.observe((performance.now() - started) / 1000);
        if (rows > 0) this.metrics.batchRows.observe(rows);
        this.failing = false;
        return true;
      } catch (err) {
        this.failing = true;
        this.metrics.insertFailures.inc();
        const waitMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt);
        this.log.warn({ err, attempt, waitMs }, 'ClickHouse write failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
    return false;
  }
}
