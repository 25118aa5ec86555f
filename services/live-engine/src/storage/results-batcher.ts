import type { MinuteRow, SessionResultRow, StandingRow } from '@pulse/contracts';
import type { BatchWriter } from './batch-writer.js';

export interface ResultsBatcherOptions {
  /** A periodic write waits at most this long for the writes of the partition's other sessions. */
  readonly flushMs: number;
  readonly insert: (
    standings: StandingRow[],
    minutes: MinuteRow[],
    sessions: SessionResultRow[],
  ) => Promise<void>;
}

/**
 * The results writes (standings, minute buckets, session rows) of every session of one partition, stored in one
 * insert per table: with a write per session, 500 sessions flushing every 5 s made 300 ClickHouse inserts a
 * second, and ClickHouse's merges then starved NATS of CPU (issue 12, 500 × 20). Periodic writes wait up to
 * `flushMs` for each other; final results and the writes of a stopping partition go at once. A write waiting
 * behind the partition's insert in progress takes, when its turn comes, everything added until then: 30 classes of
 * a partition ending together are one insert per table after the one in progress, not 30 in turn (issue 12: their
 * last ones were stored 2-4 s after their end). Each insert is retried through the BatchWriter until stored; the
 * session rows go last, so a reader that sees one sees its standings and minutes.
 */
export class ResultsBatcher {
  private standings: StandingRow[] = [];
  private minutes: MinuteRow[] = [];
  private sessions: SessionResultRow[] = [];
  private waiters: Array<() => void> = [];
  private firstAtMs = 0;
  private closed = false;
  /** A write is queued behind the insert in progress; it takes what is pending when it starts. */
  private queued = false;

  constructor(
    private readonly writer: BatchWriter,
    private readonly options: ResultsBatcherOptions,
  ) {}

  get failing(): boolean {
    return this.writer.failing;
  }

  /** Resolves once the rows are stored (or the batcher was closed: the lease is lost, nothing is written). */
  add(
    standings: StandingRow[],
    minutes: MinuteRow[],
    session: SessionResultRow,
    nowMs: number,
    now: boolean,
  ): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.standings.push(...standings);
    this.minutes.push(...minutes);
    this.sessions.push(session);
    if (this.firstAtMs === 0) this.firstAtMs = nowMs;
    const stored = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (now) this.flush();
    return stored;
  }

  /** Stores the pending writes once the first is `flushMs` old (called from the engine's tick loop). */
  tick(nowMs: number): void {
    if (this.firstAtMs !== 0 && nowMs - this.firstAtMs >= this.options.flushMs) this.flush();
  }

  /** Stores what is pending now and resolves once every write so far is stored (a stopping partition). */
  async drained(): Promise<void> {
    this.flush();
    await this.writer.idle();
  }

  close(): void {
    this.closed = true;
    this.writer.close();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private flush(): void {
    if (this.sessions.length === 0 || this.queued) return;
    this.queued = true;
    this.writer.enqueue(
      () => this.take(),
      async ({ standings, minutes, sessions }) => {
        await this.options.insert(standings, minutes, sessions);
        return 0; // the batch-size metric counts raw rows
      },
      ({ waiters }) => {
        for (const w of waiters) w();
      },
    );
  }

  private take(): Pending {
    const { standings, minutes, sessions, waiters } = this;
    this.standings = [];
    this.minutes = [];
    this.sessions = [];
    this.waiters = [];
    this.firstAtMs = 0;
    this.queued = false;
    return { standings, minutes, sessions, waiters };
  }
}

interface Pending {
  standings: StandingRow[];
  minutes: MinuteRow[];
  sessions: SessionResultRow[];
  waiters: Array<() => void>;
}
