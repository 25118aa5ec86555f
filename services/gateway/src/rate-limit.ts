/**
 * A token bucket: `burst` tokens, refilled at `ratePerSec`. Pure: the caller passes `nowMs`.
 * A reconnecting client may resend up to `burst` ratings at once, then `ratePerSec` sustained.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.refilledAtMs = nowMs;
  }

  /** True when the bucket has refilled to `burst` by `nowMs`: forgetting it then changes nothing. */
  isFull(nowMs: number): boolean {
    const elapsedMs = Math.max(0, nowMs - this.refilledAtMs);
    return this.tokens + (elapsedMs * this.ratePerSec) / 1000 >= this.burst;
  }

  /** Takes one token if there is one; false means the caller is over the limit. */
  take(nowMs: number): boolean {
    const elapsedMs = Math.max(0, nowMs - this.refilledAtMs);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSec) / 1000);
    this.refilledAtMs = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
