import { z } from 'zod';

/**
 * The vocabulary of personal boards (issue 16): the genders a profile may state, the documented age bands and
 * how many trainees one may follow. Data and one pure mapping; every service reads them from here.
 */
export const Gender = { FEMALE: 'female', MALE: 'male', NONBINARY: 'nonbinary' } as const;
export type Gender = (typeof Gender)[keyof typeof Gender];
export const GENDERS: readonly Gender[] = Object.values(Gender);

/** A trainee may follow at most this many others (a follow beyond it is 409 CONFLICT). */
export const MAX_FOLLOWING = 1_000;

/** The youngest age a profile may state (a birth year after `currentYear - MIN_PROFILE_AGE` is refused). */
export const MIN_PROFILE_AGE = 13;
export const MIN_BIRTH_YEAR = 1900;

/**
 * Age bands, by age reached in the session's (UTC) year: `under-25`, `25-34`, `35-44`, `45-54`, `55-64`,
 * `65-plus`. Each band is `[fromAge, toAge]` inclusive.
 */
export const AGE_BANDS = [
  { id: 'under-25', fromAge: 0, toAge: 24 },
  { id: '25-34', fromAge: 25, toAge: 34 },
  { id: '35-44', fromAge: 35, toAge: 44 },
  { id: '45-54', fromAge: 45, toAge: 54 },
  { id: '55-64', fromAge: 55, toAge: 64 },
  { id: '65-plus', fromAge: 65, toAge: Number.POSITIVE_INFINITY },
] as const;
export type AgeBand = (typeof AGE_BANDS)[number]['id'];
export const AgeBandId = z.enum(AGE_BANDS.map((b) => b.id) as [AgeBand, ...AgeBand[]]);
/** Entries of a band's board carried in a rank frame (`rank.band.top`). */
export const BAND_TOP_SIZE = 5;
/** Entries of the board of the people one follows carried in a rank frame (`rank.following.top`). */
export const FOLLOWING_TOP_SIZE = 5;

/** The value of a trainee's key in the follows bucket: whom they follow, with the names to show. */
export const FollowSet = z.object({
  following: z.array(z.object({ userId: z.string().uuid(), name: z.string() })).max(MAX_FOLLOWING),
});
export type FollowSet = z.infer<typeof FollowSet>;

/** The band of someone born in `birthYear`, in the UTC year `yearUtc` (e.g. the session's start year). */
export function ageBandOf(birthYear: number, yearUtc: number): AgeBand {
  const age = yearUtc - birthYear;
  return (AGE_BANDS.find((b) => age >= b.fromAge && age <= b.toAge) ?? AGE_BANDS[0]).id;
}

/**
 * The boards a client may ask to be its main one (issue 16, `{"type":"board","main":…}`): the whole class,
 * its age band's board (`rank.band`) or the board of the people it follows (`rank.following`).
 */
export const MainBoard = z.enum(['all', 'band', 'following']);
export type MainBoard = z.infer<typeof MainBoard>;

/**
 * Minutes of a personal best's curve carried in a join ticket (4 hours): a class longer than its best's curve
 * gets the best's final score as its pace after the curve's end when the curve is complete, and no pace
 * (`best.atMinute` absent) when the best itself lasted longer than this.
 */
export const BEST_CURVE_MAX_MINUTES = 240;

/**
 * A trainee's personal best of the session's type, as the join ticket carries it (issue 16): the session, its
 * final score and its cumulative score at the end of each minute since its start (`curve[m]` = score counted
 * in minutes 0..m, exact: sums of the frozen per-minute sums in hundredths), at most BEST_CURVE_MAX_MINUTES
 * entries; `complete` is false when the best lasted longer. `curve` is absent when the best's per-minute sums
 * were not stored (results frozen before they were).
 */
export const PersonalBestClaim = z.object({
  sid: z.string().uuid(),
  score: z.number().min(0),
  curve: z.array(z.number().min(0)).max(BEST_CURVE_MAX_MINUTES).optional(),
  complete: z.boolean().optional(),
});
export type PersonalBestClaim = z.infer<typeof PersonalBestClaim>;

/**
 * The personal best's cumulative score at elapsed minute `minute` of a class (the pace shown in `rank.best`),
 * or undefined when unknown: no curve, or past the end of a curve that was cut at BEST_CURVE_MAX_MINUTES.
 * Past the end of a complete curve the best had ended: its final score.
 */
export function bestAtMinute(best: PersonalBestClaim, minute: number): number | undefined {
  const { curve } = best;
  if (curve === undefined || minute < 0) return undefined;
  if (minute < curve.length) return curve[minute];
  return best.complete === false ? undefined : best.score;
}
