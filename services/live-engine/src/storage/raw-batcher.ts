import type { RatingRow } from '@pulse/contracts';
import type { BatchWriter } from './batch-writer.js';

/** A delivered JetStream message, acked once everything it carried is stored. */
export interface Ackable {
  ack(): void;
}

/**
 * One message whose content went to several actors (a gateway's batch with ratings of several sessions of the
 * partition): acked when the last of them acks its share, i.e. once all its rows are stored.
 */
export class SharedAck implements Ackable {
  constructor(
    private readonly message: Ackable,
    private remaining: number,
  ) {}

  ack(): void {
    if (--this.remaining === 0) this.message.ack();
  }
}

export interface RawBatcherOptions {
  readonly maxRows: number;
  /** A partial batch is stored this long after its first row or ack. */
  readonly flushMs: number;
  readonly insert: (rows: RatingRow[]) => Promise<void>;
}

/**
 * The raw ratings of one partition on their way to ClickHouse: rows of every session of the partition go
 * into one insert (at `maxRows`, or `flushMs` after the first), and the messages that carried them are acked
 * only once it is stored, so JetStream redelivers whatever a crash lost. Inserts run one after another
 * through the BatchWriter, which retries with backoff; a slow ClickHouse never blocks ranking.
 * One batcher per partition instead of one per session: 500 sessions of 20 make 2 inserts a second per
 * partition, not 1,000 a second. A flush waiting behind the insert in progress takes, when its turn comes,
 * every row added until then and serves every `stored()` asked meanwhile (the classes of a partition ending
 * together wait for one insert, not one each); behind a slow ClickHouse that insert may exceed `maxRows`.
 */
export class RawBatcher {
  private rows: RatingRow[] = [];
  private acks: Ackable[] = [];
  private firstAtMs = 0;
  private closed = false;
  private readonly waiters = new Set<() => void>();
  /** The flush queued behind the insert in progress (it takes what is pending when it starts), if any. */
  private queued: { readonly onStored: Array<() => void> } | null = null;

  constructor(
    private readonly writer: BatchWriter,
    private readonly options: RawBatcherOptions,
  ) {}

  get failing(): boolean {
    return this.writer.failing;
  }

  /** A row to store (null: none) and the message to ack once it is stored (null: a replayed one). */
  add(row: RatingRow | null, ack: Ackable | null, nowMs: number): void {
    if (this.closed || (row === null && ack === null)) return;
    if (row !== null) this.rows.push(row);
    if (ack !== null) this.acks.push(ack);
    if (this.firstAtMs === 0) this.firstAtMs = nowMs;
    if (this.rows.length >= this.options.maxRows) this.flush();
  }

  /** Stores a partial batch once it is `flushMs` old (called from the engine's tick loop). */
  tick(nowMs: number): void {
    if (this.firstAtMs !== 0 && nowMs - this.firstAtMs >= this.options.flushMs) this.flush();
  }

  /** Resolves once everything added so far is stored and acked (or the batcher was closed). */
  stored(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.add(resolve);
      this.flush(() => {
        this.waiters.delete(resolve);
        resolve();
      });
    });
  }

  /** Drops what is not stored, acks nothing (the lease is lost: JetStream redelivers it to the next owner). */
  close(): void {
    this.closed = true;
    this.rows = [];
    this.acks = [];
    this.writer.close();
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  private flush(onStored?: () => void): void {
    if (this.queued !== null) {
      if (onStored !== undefined) this.queued.onStored.push(onStored);
      return;
    }
    if (this.rows.length === 0 && this.acks.length === 0 && onStored === undefined) return;
    const job = { onStored: onStored === undefined ? [] : [onStored] };
    this.queued = job;
    this.writer.enqueue(
      () => this.take(job),
      async ({ rows }) => {
        if (rows.length > 0) await this.options.insert(rows);
        return rows.length;
      },
      ({ acks }) => {
        for (const m of acks) m.ack();
        for (const stored of job.onStored) stored();
      },
    );
  }

  private take(job: { readonly onStored: Array<() => void> }): { rows: RatingRow[]; acks: Ackable[] } {
    if (this.queued === job) this.queued = null;
    const taken = { rows: this.rows, acks: this.acks };
    this.rows = [];
    this.acks = [];
    this.firstAtMs = 0;
    return taken;
  }
}
