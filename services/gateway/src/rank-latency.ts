/** Ratings a client may have waiting for their first rank frame before the oldest are forgotten. */
export const MAX_TRACKED_RATINGS = 256;

/**
 * One client's rating → own rank latency: when each new seq was received, and, when a rank frame counting it
 * is written, how long that took. Pure: the caller passes times and observes the results. This is the
 * end-to-end figure the `PulseRatingToRankSlow` alert reads (gateway in, bus, engine, rank frame out).
 */
export class RankLatency {
  private readonly seqs: number[] = [];
  private readonly receivedAtMs: number[] = [];
  private highest = 0;

  /** A rating with a seq above every earlier one was received at `atMs` (resends are not new). */
  received(seq: number, atMs: number): void {
    if (seq <= this.highest) return;
    this.highest = seq;
    if (this.seqs.length === MAX_TRACKED_RATINGS) {
      this.seqs.shift();
      this.receivedAtMs.shift();
    }
    this.seqs.push(seq);
    this.receivedAtMs.push(atMs);
  }

  /** A rank frame counting every seq up to `seq` was written at `atMs`: the latency of each rating it covers. */
  ranked(seq: number, atMs: number, observe: (seconds: number) => void): void {
    let n = 0;
    while (n < this.seqs.length && this.seqs[n] <= seq) {
      observe(Math.max(0, atMs - this.receivedAtMs[n]) / 1000);
      n++;
    }
    if (n > 0) {
      this.seqs.splice(0, n);
      this.receivedAtMs.splice(0, n);
    }
  }
}
