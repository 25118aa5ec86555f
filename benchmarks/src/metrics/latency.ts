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

/** One histogram for the whole run plus one per interval, for "percentiles over time" charts. */
export class LatencyRecorder {
  private readonly total = newHistogram();
  private interval = newHistogram();
  readonly timeline: Array<{ t: number } & Percentiles> = [];

  record(valuesMs: Iterable<number>): void {
    for (const v of valuesMs) {
      const us = Math.max(1, Math.round(v * 1000));
      this.total.recordValue(us);
      this.interval.recordValue(us);
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
  destroy(): void {
    this.total.destroy();
    this.interval.destroy();
  }
}
