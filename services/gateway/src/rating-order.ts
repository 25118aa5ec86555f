import { EarlierRatingNotStored, GatewayError, PublishFailed } from './errors.js';

/** One accepted rating waiting for its turn to be published. */
export interface PendingRating {
  seq: number;
  energy: number;
  ts: number;
}

export interface RatingOrderDeps {
  /**
   * Publishes ratings in seq order, stored all or none (one message), and resolves once JetStream stored them
   * (or dropped them as a duplicate msg id).
   */
  publish(ratings: PendingRating[]): Promise<unknown>;
  stored(seq: number): void;
  duplicate(seq: number): void;
  /** The rating was not stored; `err` carries its seq and `resendFrom`. */
  refused(err: GatewayError): void;
}

/**
 * Keeps one client's ratings in seq order on their way to JetStream, so that `lastSeq` (the highest seq
 * stored) never hides a seq that was not stored — the engine counts a rating only above the highest seq it
 * has counted, so a gap below a stored seq could never be filled:
 * - one publish at a time per client (a client sends about one rating a second); the ratings that queued while
 *   it ran go together in the next one, stored all or none, so a client's ratings never wait in a line that
 *   grows by a rating a second while a publish takes longer than that (an overloaded box: a JetStream ack took
 *   1.2 s in the 500 × 20 run of RESULTS.md's s27 section, and every client fell further behind each second);
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
    while (this.queue.length > 0 && !this.stopped) {
      const group = this.nextGroup();
      if (group.length === 0) continue;
      try {
        await this.deps.publish(group);
        for (const rating of group) {
          this.highestStored = rating.seq;
          this.stored(rating.seq);
          this.deps.stored(rating.seq);
        }
      } catch (err) {
        // None of them was stored: the first is refused for the reason, the others as above it.
        const [first, ...rest] = group;
        const failed = err instanceof GatewayError ? err : new PublishFailed(first.seq, err);
        failed.resendFrom = this.refuse(first.seq);
        this.deps.refused(failed);
        for (const rating of rest) {
          this.refuse(rating.seq);
          this.deps.refused(new EarlierRatingNotStored(rating.seq, this.lowestRefused!));
        }
      }
    }
    this.running = false;
    if (this.queue.length === 0 || this.stopped) this.settleIdle();
  }

  /**
   * Takes the queued ratings that go out next, as one publish: from the front of the queue, each that is
   * published as it stands now — above every seq stored or in this group, and with no refused seq below it
   * other than the ones this group resends. Seqs already stored are duplicates and refusals are decided here as
   * one at a time would decide them; the first rating that could only be decided after this group settles (a
   * resend of a seq in it, or one above a refused seq not in it) waits at the front for the next group.
   */
  private nextGroup(): PendingRating[] {
    const group: PendingRating[] = [];
    let top = this.highestStored;
    while (this.queue.length > 0) {
      const rating = this.queue[0];
      if (rating.seq <= this.highestStored) {
        this.queue.shift();
        this.deps.duplicate(rating.seq);
        continue;
      }
      if (rating.seq <= top) break;
      const below = this.lowestRefusedOutside(group);
      if (below !== null && rating.seq > below) {
        if (group.length > 0) break;
        this.queue.shift();
        this.refuse(rating.seq);
        this.deps.refused(new EarlierRatingNotStored(rating.seq, this.lowestRefused!));
        continue;
      }
      this.queue.shift();
      group.push(rating);
      top = rating.seq;
    }
    return group;
  }

  /** The lowest refused seq that `group` does not resend (its publish would not store it). */
  private lowestRefusedOutside(group: PendingRating[]): number | null {
    if (group.length === 0) return this.lowestRefused;
    let lowest: number | null = null;
    for (const seq of this.refused)
      if ((lowest === null || seq < lowest) && !group.some((r) => r.seq === seq)) lowest = seq;
    return lowest;
  }
}
