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
  // One pass, no sort: the trainee's rank is 1 + how many of them stand before them, and the top five are
  // kept by insertion into a short array (O(k) for k followees, a few comparisons each).
  const top: Entry[] = [{ userId: self.userId, name: self.name, standing: mine }];
  let before = 0;
  let present = 1;
  for (const [userId, name] of following) {
    const standing = userId === self.userId ? undefined : standings.get(userId);
    if (standing === undefined) continue;
    present++;
    if (precedes(standing, mine)) before++;
    if (top.length === FOLLOWING_TOP_SIZE && !precedes(standing, top[top.length - 1].standing)) continue;
    let at = top.length;
    while (at > 0 && precedes(standing, top[at - 1].standing)) at--;
    top.splice(at, 0, { userId, name, standing });
    if (top.length > FOLLOWING_TOP_SIZE) top.pop();
  }
  if (present === 1) return null;
  return {
    rank: before + 1,
    participants: present,
    top: top.map((e, i) => ({ rank: i + 1, userId: e.userId, name: e.name, score: e.standing.score })),
  };
}

interface Entry {
  userId: string;
  name: string;
  standing: Standing;
}

/** Whether `a` stands before `b`: a higher score, or the same score and a better place on the whole board. */
const precedes = (a: Standing, b: Standing): boolean =>
  a.score > b.score || (a.score === b.score && a.rank < b.rank);
