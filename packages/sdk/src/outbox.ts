/** A rating the device produced, kept until the server confirms it. */
export interface PendingRating {
  seq: number;
  energy: number;
}

/** Confirmed entries are dropped from the arrays' front once this many have piled up (and half is dead). */
const COMPACT_AFTER = 1024;

/**
 * The local outbox of ratings not yet confirmed. A rating is confirmed when a rank frame's `seq` (or a welcome's
 * `lastSeq`, which covers only durably stored ratings) reaches it; everything above is resent after a reconnect
 * or from an error's `resendFrom`. Pure: no timers, no socket.
 *
 * Kept as two number arrays, not an object per rating: a rating waits about a second for its rank, long enough
 * to survive a young-generation GC, and an object per rating promoted to the old generation made a device
 * simulator (10,000 devices in one process) ~8 % dearer per socket (benchmarks/RESULTS.md, issue 15). Objects
 * are built only when asked for (`unconfirmed`, `from`).
 */
export class RatingOutbox {
  private seqs: number[] = [];
  private energies: number[] = [];
  private head = 0;
  private nextSeq: number;
  private confirmedSeq = 0;

  constructor(firstSeq = 1) {
    this.nextSeq = firstSeq;
  }

  /** Adds a reading and returns it with its seq. */
  add(energy: number): PendingRating {
    const seq = this.nextSeq++;
    this.seqs.push(seq);
    this.energies.push(energy);
    return { seq, energy };
  }

  /** Drops every rating up to `seq`; also moves the next seq past it (a fresh device resuming a session). */
  confirm(seq: number): void {
    if (seq > this.confirmedSeq) this.confirmedSeq = seq;
    if (this.nextSeq <= seq) this.nextSeq = seq + 1;
    while (this.head < this.seqs.length && this.seqs[this.head] <= seq) this.head++;
    if (this.head === this.seqs.length) {
      this.seqs = [];
      this.energies = [];
      this.head = 0;
    } else if (this.head > COMPACT_AFTER && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.energies = this.energies.slice(this.head);
      this.head = 0;
    }
  }

  /** The ratings to send from `seq` on, in order. */
  from(seq: number): PendingRating[] {
    const out: PendingRating[] = [];
    for (let i = this.head; i < this.seqs.length; i++) {
      if (this.seqs[i] >= seq) out.push({ seq: this.seqs[i], energy: this.energies[i] });
    }
    return out;
  }

  /** Every rating not yet confirmed, in order (a new array each time). */
  get unconfirmed(): readonly PendingRating[] {
    return this.from(0);
  }

  /** How many ratings are not yet confirmed. */
  get size(): number {
    return this.seqs.length - this.head;
  }

  /** The highest seq the server confirmed. */
  get confirmed(): number {
    return this.confirmedSeq;
  }
}
