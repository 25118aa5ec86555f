import type { GatewayMetrics } from './metrics.js';

/** The part of a socket rank delivery needs (a `ws` WebSocket fits). */
export interface FrameSink {
  readonly bufferedAmount: number;
  /** Writes a frame; `onWritten` runs once the socket took it. */
  write(frame: string, onWritten: () => void): void;
  /** The client stopped reading (close it with 4429). */
  slow(): void;
}

export interface RankDeliveryOptions {
  /** A pending rank frame is written only while the socket buffers less than this. */
  readonly sendBufferLowBytes: number;
  /** Beyond this the client is slow. */
  readonly sendBufferMaxBytes: number;
  /** A client that could not take a rank frame for this long is slow. */
  readonly slowConsumerMs: number;
  readonly now?: () => number;
  /** Told the seq of every rank frame written, and when (the rating → rank latency). */
  readonly written?: (seq: number, atMs: number) => void;
}

/**
 * One client's rank frames out, apart from its ratings in (issue 12): which frame goes when, coalescing and
 * backpressure. Send policy: a frame whose seq differs from the last one sent (the client's rating is ranked)
 * goes out now; otherwise it only becomes the newest frame, which `refresh` sends once the last one is stale.
 * Only the newest frame waits; it goes out once the socket has drained below `sendBufferLowBytes`, retried from
 * the previous frame's write callback, so one client's backlog never delays another.
 */
export class RankDelivery {
  private pending: string | null = null;
  private pendingSeq = -1;
  /** The newest rank frame offered (sent or not) and its seq; re-sent by refresh when it got stale. */
  private latest: string | null = null;
  private latestSeq = -1;
  /** Seq of the last rank frame written, and when. */
  private sentSeq = -1;
  private sentAtMs = 0;
  private stalledSinceMs: number | null = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly flush = () => this.trySend();

  constructor(
    private readonly sink: FrameSink,
    private readonly options: RankDeliveryOptions,
    private readonly metrics: GatewayMetrics,
  ) {
    this.now = options.now ?? Date.now;
  }

  offer(frame: string, seq: number): void {
    if (this.stopped) return;
    this.latest = frame;
    this.latestSeq = seq;
    if (this.pending === null && seq === this.sentSeq) return;
    this.queue(frame, seq);
  }

  /** Sends the newest frame again when none went out for `staleMs` (every client gets ≥ 1 frame a second). */
  refresh(nowMs: number, staleMs: number): void {
    if (this.latest === null || this.pending !== null || this.stopped) return;
    if (nowMs - this.sentAtMs < staleMs) return;
    this.queue(this.latest, this.latestSeq);
  }

  /** The socket is closing: nothing more goes out. */
  stop(): void {
    this.stopped = true;
    this.pending = null;
    this.latest = null;
  }

  private queue(frame: string, seq: number): void {
    if (this.pending !== null) this.metrics.rankFramesDropped.inc();
    this.pending = frame;
    this.pendingSeq = seq;
    this.trySend();
  }

  private trySend(): void {
    if (this.pending === null || this.stopped) return;
    const buffered = this.sink.bufferedAmount;
    const nowMs = this.now();
    if (buffered < this.options.sendBufferLowBytes) {
      const frame = this.pending;
      this.pending = null;
      if (this.sentAtMs > 0) this.metrics.rankFrameInterval.observe((nowMs - this.sentAtMs) / 1000);
      this.sentSeq = this.pendingSeq;
      this.sentAtMs = nowMs;
      this.stalledSinceMs = null;
      this.metrics.rankFramesSent.inc();
      this.options.written?.(this.sentSeq, nowMs);
      this.sink.write(frame, this.flush);
      return;
    }
    this.stalledSinceMs ??= nowMs;
    if (
      buffered > this.options.sendBufferMaxBytes ||
      nowMs - this.stalledSinceMs > this.options.slowConsumerMs
    ) {
      this.sink.slow();
    }
  }
}
