import type { MyBand, MyFollowing } from './results-view.js';

/** The frozen personal-board columns of a participant's `session_result` row (issue 16). */
export interface PersonalNumbers {
  band?: string | null;
  band_rank?: number | null;
  band_participants?: number | null;
  following_rank?: number | null;
  following_participants?: number | null;
  personal_best?: boolean | null;
}

/** `band`, `following` and `personalBest` of a results `me` or a history entry, from frozen columns. */
export function personalBoardsOf(row: PersonalNumbers): {
  band: MyBand | null;
  following: MyFollowing | null;
  personalBest: boolean;
} {
  const band =
    row.band != null && row.band_rank != null && row.band_participants != null
      ? { id: row.band, rank: row.band_rank, participants: row.band_participants }
      : null;
  const following =
    row.following_rank != null && row.following_participants != null
      ? { rank: row.following_rank, participants: row.following_participants }
      : null;
  return { band, following, personalBest: row.personal_best === true };
}
