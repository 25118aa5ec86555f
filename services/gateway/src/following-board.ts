import { FOLLOWING_TOP_SIZE, type TopEntry } from '@pulse/contracts';

/** A participant's latest standing in a session, as this gateway last read it from the engine's snapshots. */
export interface Standing {
  rank: number;
  score: number;
}

/** The board of a trainee and the people they follow who are in the class (`rank.following`, issue 16). */
export interface FollowingBoard {
  rank: number;
  participants: number;
  top: TopEntry[];
}

/**
 * Ranks `self` among the people they follow who are on the session's board: by score, ties in the order of the
 * whole board (the engine's rank breaks them), so it agrees with the whole board at every full snapshot.
 * O(k log k) for k followees. Null when none of them is in the class.
 */
export function followingBoard(
  self: { userId: string; name: string },
  following: ReadonlyMap<string, string>,
  standings: ReadonlyMap<string, Standing>,
): FollowingBoard | null {
  const mine = standings.get(self.userId);
  if (mine === undefined) return null;
  const entries: Array<{ userId: string; name: string; standing: Standing }> = [
    { userId: self.userId, name: self.name, standing: mine },
  ];
  for (const [userId, name] of following) {
    const standing = userId === self.userId ? undefined : standings.get(userId);
    if (standing !== undefined) entries.push({ userId, name, standing });
  }
  if (entries.length === 1) return null;
  entries.sort((a, b) => b.standing.score - a.standing.score || a.standing.rank - b.standing.rank);
  return {
    rank: entries.findIndex((e) => e.userId === self.userId) + 1,
    participants: entries.length,
    top: entries
      .slice(0, FOLLOWING_TOP_SIZE)
      .map((e, i) => ({ rank: i + 1, userId: e.userId, name: e.name, score: e.standing.score })),
  };
}
