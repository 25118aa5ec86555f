/** A rating the device produced, kept until the server confirms it. */
export interface PendingRating {
  seq: number;
  energy: number;
}

/**
 * The local outbox of ratings not yet confirmed. A rating is confirmed when a rank frame's `seq` (or a welcome's
 * `lastSeq`, which covers only durably stored ratings) reaches it; everything above is resent after a reconnect
 * or from an error's `resendFrom`. Pure: no timers, no socket.
 */
export class RatingOutbox {
  private readonly pending: PendingRating[] = [];
  private nextSeq: number;
  private confirmedSeq = 0;

  constructor(firstSeq = 1) {
    this.nextSeq = firstSeq;
  }

  /** Adds a reading and returns it with its seq. */
  add(energy: number): PendingRating {
    const rating = { seq: this.nextSeq++, energy };
    this.pending.push(rating);
    return rating;
  }

  /** Drops every rating up to `seq`; also moves the next seq past it (a fresh device resuming a session). */
  confirm(seq: number): void {
    if (seq > this.confirmedSeq) this.confirmedSeq = seq;
    if (this.nextSeq <= seq) this.nextSeq = seq + 1;
    while (this.pending.length > 0 && this.pending[0].seq <= seq) this.pending.shift();
  }

  /** The ratings to send from `seq` on, in order. */
  from(seq: number): PendingRating[] {
    return this.pending.filter((rating) => rating.seq >= seq);
  }

  /** Every rating not yet confirmed, in order. */
  get unconfirmed(): readonly PendingRating[] {
    return this.pending;
  }

  /** How many ratings are not yet confirmed. */
  get size(): number {
    return this.pending.length;
  }

  /** The highest seq the server confirmed. */
  get confirmed(): number {
    return this.confirmedSeq;
  }
}
