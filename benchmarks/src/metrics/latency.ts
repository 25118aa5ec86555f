import * as hdr from 'hdr-histogram-js';

/** Percentiles of one histogram, in milliseconds. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Values are recorded in microseconds (3 significant digits) and reported in milliseconds. */
const newHistogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });

export function percentilesOf(h: hdr.Histogram): Percentiles {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

/** The first seconds of a play that `LatencyRecorder.settledSummary` leaves out (the class's start). */
export const START_SECONDS = 5;

/**
 * One histogram for the whole run plus one per interval, for "percentiles over time" charts, and one of the
 * run after its first START_SECONDS: where a whole-run tail comes from the start (every device's first
 * frames, every process's code and state new at once), that one says what the rest of the play holds.
 */
export class LatencyRecorder {
  private readonly total = newHistogram();
  private interval = newHistogram();
  private readonly settled = newHistogram();
  readonly timeline: Array<{ t: number } & Percentiles> = [];

  /** `afterStart`: the values belong to the play after its first START_SECONDS. */
  record(valuesMs: Iterable<number>, afterStart = false): void {
    for (const v of valuesMs) {
      const us = Math.max(1, Math.round(v * 1000));
      this.total.recordValue(us);
      this.interval.recordValue(us);
      if (afterStart) this.settled.recordValue(us);
    }
  }
  /** Closes the current interval at `t` seconds since the start of the run. */
  closeInterval(t: number): void {
    this.timeline.push({ t, ...percentilesOf(this.interval) });
    this.interval.reset();
  }
  summary(): Percentiles {
    return percentilesOf(this.total);
  }
  /** The values recorded with `afterStart`. */
  settledSummary(): Percentiles {
    return percentilesOf(this.settled);
  }
  destroy(): void {
    this.total.destroy();
    this.interval.destroy();
    this.settled.destroy();
  }
}
