/**
 * One participant's numbers in one session. Pure: no I/O, no clock; times are passed in.
 *
 * Energy is quantised to hundredths (integer centi-points) so that a score is an exact integer sum and two
 * equal scores compare equal however they were reached. score = scoreCenti / 100.
 */
export const DEFAULT_WEIGHT_KG = 70;

export interface MinuteBucket {
  readonly minute: number;
  sumCenti: number;
  maxCenti: number;
  samples: number;
}

export interface Participant {
  readonly userId: string;
  name: string;
  weightKg: number;
  scoreCenti: number;
  samples: number;
  /** Highest seq counted; a rating counts only when its seq is above it. */
  lastSeq: number;
  /** When the current score was reached (smaller = earlier; breaks ties). */
  reachedOrder: number;
  /** Gateway stamp of the first rating counted; the score allowance grows from here. */
  firstRatingAtMs: number | null;
  /** Index in AGE_BANDS of the age-band board the trainee opted in to, or -1 (issue 16). */
  band: number;
  readonly minutes: Map<number, MinuteBucket>;
}

export function newParticipant(userId: string, reachedOrder: number): Participant {
  return {
    userId,
    name: '',
    weightKg: DEFAULT_WEIGHT_KG,
    scoreCenti: 0,
    samples: 0,
    lastSeq: 0,
    reachedOrder,
    firstRatingAtMs: null,
    band: -1,
    minutes: new Map(),
  };
}

export const toCenti = (energy: number): number => Math.round(energy * 100);

/** Minute since the session started; readings stamped before the start belong to minute 0. */
export function minuteOf(tsMs: number, startedAtMs: number, minuteMs: number): number {
  return Math.max(0, Math.floor((tsMs - startedAtMs) / minuteMs));
}

/** How much one user may add: see SCORE_ALLOWANCE in contracts. */
export interface AllowanceRule {
  readonly ratePerSec: number;
  readonly burst: number;
}

/**
 * Whether one more rating stamped `tsMs` fits the user's allowance: counted ratings stay within
 * `burst + ratePerSec × seconds since the first one`. Depends only on the ratings in stream order, so a
 * replay after a crash decides exactly as the live run did.
 */
export function withinAllowance(p: Participant, tsMs: number, rule: AllowanceRule): boolean {
  const sinceFirstMs = p.firstRatingAtMs === null ? 0 : Math.max(0, tsMs - p.firstRatingAtMs);
  return p.samples < rule.burst + Math.floor((sinceFirstMs * rule.ratePerSec) / 1000);
}

/**
 * Counts one reading into the participant unless its seq was already counted. Returns the touched bucket,
 * or null for a duplicate.
 */
export function countRating(
  p: Participant,
  seq: number,
  energyCenti: number,
  minute: number,
): MinuteBucket | null {
  if (seq <= p.lastSeq) return null;
  p.lastSeq = seq;
  p.scoreCenti += energyCenti;
  p.samples += 1;
  let bucket = p.minutes.get(minute);
  if (bucket === undefined) {
    bucket = { minute, sumCenti: 0, maxCenti: 0, samples: 0 };
    p.minutes.set(minute, bucket);
  }
  bucket.sumCenti += energyCenti;
  bucket.samples += 1;
  if (energyCenti > bucket.maxCenti) bucket.maxCenti = energyCenti;
  return bucket;
}

export const bucketAvgEnergy = (b: MinuteBucket): number =>
  b.samples === 0 ? 0 : b.sumCenti / b.samples / 100;

export const avgEnergy = (p: Participant): number => (p.samples === 0 ? 0 : p.scoreCenti / p.samples / 100);

/** Rounds to hundredths, the precision results are stored and compared at. */
export const round2 = (x: number): number => Math.round(x * 100) / 100;

/**
 * Calories of one minute of exercise at `avgEnergy` (0..100) for a person of `weightKg`.
 * Energy maps linearly onto intensity: MET = 1 + 11 * avgEnergy / 100 (rest = 1 MET, all-out = 12 MET),
 * and the standard ACSM estimate kcal/min = MET * 3.5 * weightKg / 200.
 */
export function minuteCalories(avg: number, weightKg: number): number {
  const met = 1 + (11 * avg) / 100;
  return (met * 3.5 * weightKg) / 200;
}

/** Sum of {@link minuteCalories} over the minutes with samples, in minute order, rounded to hundredths. */
export function calories(p: Participant): number {
  const minutes = [...p.minutes.keys()].sort((a, b) => a - b);
  let kcal = 0;
  for (const m of minutes) {
    const b = p.minutes.get(m)!;
    if (b.samples > 0) kcal += minuteCalories(bucketAvgEnergy(b), p.weightKg);
  }
  return round2(kcal);
}
