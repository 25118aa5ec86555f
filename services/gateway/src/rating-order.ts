import { EarlierRatingNotStored, GatewayError, PublishFailed } from './errors.js';

/** One accepted rating waiting for its turn to be published. */
export interface PendingRating {
  seq: number;
  energy: number;
  ts: number;
}

export interface RatingOrderDeps {
  /** Publishes one rating and resolves once JetStream stored it (or dropped it as a duplicate msg id). */
  publish(rating: PendingRating): Promise<unknown>;
  stored(seq: number): void;
  duplicate(seq: number): void;
  /** The rating was not stored; `err` carries its seq and `resendFrom`. */
  refused(err: GatewayError): void;
}

/**
 * Keeps one client's ratings in seq order on their way to JetStream, so that `lastSeq` (the highest seq
 * stored) never hides a seq that was not stored — the engine counts a rating only above the highest seq it
 * has counted, so a gap below a stored seq could never be filled:
 * - one publish at a time per client (a client sends about one rating a second);
 * - once a seq is refused (publish failed, rate limited, or above a refused one), every higher seq is refused
 *   with `resendFrom` until every refused seq below it is stored: the client resends everything from
 *   `resendFrom`. Every refused seq is remembered until stored, not only the lowest: storing the lowest must
 *   not let a higher seq through while a seq between them still waits for its resend (it would then be
 *   ignored as a duplicate and lost).
 * Seqs at or below the highest stored one are ignored (resends after a reconnect).
 */
export class RatingOrder {
  private highestStored: number;
  /** Seqs refused and not stored since (all above `highestStored`), and the lowest of them. */
  private readonly refused = new Set<number>();
  private lowestRefused: number | null = null;
  private readonly queue: PendingRating[] = [];
  private running = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    lastSeq: number,
    private readonly deps: RatingOrderDeps,
  ) {
    this.highestStored = lastSeq;
  }

  /** The seq a client must resend from, if one of its ratings was refused and not stored since. */
  get resendFrom(): number | null {
    return this.lowestRefused;
  }

  get lastStored(): number {
    return this.highestStored;
  }

  /** Records a refused rating (rate limit, failed publish, or above a refused one); returns its resendFrom. */
  refuse(seq: number): number {
    if (seq > this.highestStored) {
      this.refused.add(seq);
      if (this.lowestRefused === null || seq < this.lowestRefused) this.lowestRefused = seq;
    }
    return this.lowestRefused ?? seq;
  }

  /** `seq` is stored: it no longer holds back the seqs above it. */
  private stored(seq: number): void {
    if (!this.refused.delete(seq) || seq !== this.lowestRefused) return;
    let lowest: number | null = null;
    for (const s of this.refused) if (lowest === null || s < lowest) lowest = s;
    this.lowestRefused = lowest;
  }

  submit(rating: PendingRating): void {
    if (this.stopped) return;
    this.queue.push(rating);
    if (!this.running) void this.drain();
  }

  /** The client is gone: queued ratings are dropped (it resends them from its next welcome's lastSeq). */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.settleIdle();
  }

  /** Resolves once nothing is queued or being published (at once when idle). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Refuses every queued rating that is not being published yet, with `refusal(seq)` (the session ended
   * before they could be stored); the one in flight settles with its publish.
   */
  refuseQueued(refusal: (seq: number) => GatewayError): void {
    const queued = this.queue.splice(0);
    for (const rating of queued) {
      if (rating.seq <= this.highestStored) continue;
      this.refuse(rating.seq);
      this.deps.refused(refusal(rating.seq));
    }
    if (!this.running) this.settleIdle();
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async drain(): Promise<void> {
    this.running = true;
    for (let rating = this.queue.shift(); rating && !this.stopped; rating = this.queue.shift()) {
      if (rating.seq <= this.highestStored) {
        this.deps.duplicate(rating.seq);
        continue;
      }
      if (this.lowestRefused !== null && rating.seq > this.lowestRefused) {
        this.refuse(rating.seq);
        this.deps.refused(new EarlierRatingNotStored(rating.seq, this.lowestRefused));
        continue;
      }
      try {
        await this.deps.publish(rating);
        this.highestStored = rating.seq;
        this.stored(rating.seq);
        this.deps.stored(rating.seq);
      } catch (err) {
        const failed = err instanceof GatewayError ? err : new PublishFailed(rating.seq, err);
        failed.resendFrom = this.refuse(rating.seq);
        this.deps.refused(failed);
      }
    }
    this.running = false;
    if (this.queue.length === 0 || this.stopped) this.settleIdle();
  }
}
