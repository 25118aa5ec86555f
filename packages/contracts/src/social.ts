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
