/**
 * Versions for ReplacingMergeTree rows: microsecond-like numbers from the wall clock (so a restarted engine
 * continues above its predecessor) that never repeat or go backwards within a process.
 */
export class VersionClock {
  private last = 0;

  next(nowMs: number): number {
    const v = Math.max(Math.floor(nowMs) * 1000, this.last + 1);
    this.last = v;
    return v;
  }
}
