import type { MinuteBucket, Participant } from './participant.js';

/**
 * A session's scoring state as plain columns (entry i of every column is one participant, in the order they
 * joined): what a checkpoint stores (session/checkpoint.ts). Columns of numbers instead of one object per
 * participant keep a 10,000-participant session's JSON small and fast to build and parse. Pure.
 */
export interface StandingsState {
  /** The tie-break counter (a join or a scoring rating takes the next number). */
  readonly order: number;
  readonly userIds: string[];
  readonly names: string[];
  readonly weightsKg: number[];
  /** Each user's age-band board (index in contracts' AGE_BANDS), or -1 (issue 16). */
  readonly bands: number[];
  readonly scoresCenti: number[];
  readonly samples: number[];
  readonly lastSeqs: number[];
  readonly reachedOrders: number[];
  /** Gateway stamp of each user's first counted rating (the score allowance grows from it), or null. */
  readonly firstRatingsAtMs: Array<number | null>;
  /**
   * Every participant's minute buckets, flat: for participant i in turn, its bucket count k, then k times
   * (minute, sumCenti, maxCenti, samples).
   */
  readonly minutes: number[];
}

/** The columns of `participants` (in their iteration order). */
export function participantColumns(participants: Iterable<Participant>, order: number): StandingsState {
  const state: StandingsState = {
    order,
    userIds: [],
    names: [],
    weightsKg: [],
    bands: [],
    scoresCenti: [],
    samples: [],
    lastSeqs: [],
    reachedOrders: [],
    firstRatingsAtMs: [],
    minutes: [],
  };
  for (const p of participants) {
    state.userIds.push(p.userId);
    state.names.push(p.name);
    state.weightsKg.push(p.weightKg);
    state.bands.push(p.band);
    state.scoresCenti.push(p.scoreCenti);
    state.samples.push(p.samples);
    state.lastSeqs.push(p.lastSeq);
    state.reachedOrders.push(p.reachedOrder);
    state.firstRatingsAtMs.push(p.firstRatingAtMs);
    state.minutes.push(p.minutes.size);
    for (const b of p.minutes.values()) state.minutes.push(b.minute, b.sumCenti, b.maxCenti, b.samples);
  }
  return state;
}

/**
 * Why the columns do not fit together (lengths, minute buckets, band indexes), or null when they do. Checked when
 * a checkpoint is read, so that a bad one is refused there (full replay), never half restored.
 */
export function columnsProblem(state: StandingsState, bandCount: number): string | null {
  const n = state.userIds.length;
  const columns = [
    state.names,
    state.weightsKg,
    state.bands,
    state.scoresCenti,
    state.samples,
    state.lastSeqs,
    state.reachedOrders,
    state.firstRatingsAtMs,
  ];
  if (columns.some((c) => c.length !== n)) return 'standings columns differ in length';
  if (state.bands.some((b) => !Number.isInteger(b) || b < -1 || b >= bandCount)) return 'unknown age band';
  let at = 0;
  for (let i = 0; i < n; i++) {
    const count = state.minutes[at];
    if (!Number.isInteger(count) || count < 0) return 'minute buckets cut short';
    at += 1 + count * 4;
  }
  return at === state.minutes.length ? null : 'minute buckets do not match the participants';
}

/** The participants the columns describe, in order (columns checked by columnsProblem). */
export function participantsOf(state: StandingsState): Participant[] {
  const n = state.userIds.length;
  const out: Participant[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const count = state.minutes[at++];
    const minutes = new Map<number, MinuteBucket>();
    for (let k = 0; k < count; k++, at += 4) {
      const [minute, sumCenti, maxCenti, samples] = state.minutes.slice(at, at + 4);
      minutes.set(minute, { minute, sumCenti, maxCenti, samples });
    }
    out.push({
      userId: state.userIds[i],
      name: state.names[i],
      weightKg: state.weightsKg[i],
      band: state.bands[i],
      scoreCenti: state.scoresCenti[i],
      samples: state.samples[i],
      lastSeq: state.lastSeqs[i],
      reachedOrder: state.reachedOrders[i],
      firstRatingAtMs: state.firstRatingsAtMs[i],
      minutes,
    });
  }
  return out;
}
