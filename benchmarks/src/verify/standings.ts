/**
 * The ranking a test computes on its own from what it sent, to judge what Pulse reports. Ties (equal
 * scores) are ranked by who reached the score first, which the sender cannot know across users, so a
 * tied user may hold any rank of its tie group; everything else is exact.
 */
export class ExpectedStandings {
  private readonly sorted: number[];

  constructor(readonly scores: ReadonlyMap<string, number>) {
    this.sorted = [...scores.values()].sort((a, b) => b - a);
  }

  get participants(): number {
    return this.scores.size;
  }

  /** The ranks a user may hold: [1 + users strictly ahead, users ahead or level]. */
  rankRange(userId: string): [number, number] {
    const score = this.scores.get(userId);
    if (score === undefined) throw new Error(`unknown user ${userId}`);
    let ahead = 0;
    let level = 0;
    for (const s of this.sorted) {
      if (s > score) ahead++;
      else if (s === score) level++;
      else break;
    }
    return [ahead + 1, ahead + level];
  }

  /** True when no other user has the same score (so the rank is exact). */
  isUnique(userId: string): boolean {
    const [lo, hi] = this.rankRange(userId);
    return lo === hi;
  }

  /** The scores of the first `n` places, best first. */
  topScores(n: number): number[] {
    return this.sorted.slice(0, n);
  }

  /**
   * Checks reported standings (one entry per user) against this ranking and returns every problem found,
   * each as a readable line; an empty list means they agree.
   */
  problems(reported: ReadonlyArray<{ userId: string; rank: number; score: number }>, what: string): string[] {
    const out: string[] = [];
    const seenRanks = new Set<number>();
    const seenUsers = new Set<string>();
    for (const r of reported) {
      const expected = this.scores.get(r.userId);
      if (expected === undefined) {
        out.push(`${what}: unexpected user ${r.userId}`);
        continue;
      }
      if (seenUsers.has(r.userId)) out.push(`${what}: user ${r.userId} listed twice`);
      seenUsers.add(r.userId);
      if (r.score !== expected) out.push(`${what}: user ${r.userId} score ${r.score}, expected ${expected}`);
      const [lo, hi] = this.rankRange(r.userId);
      if (r.rank < lo || r.rank > hi)
        out.push(`${what}: user ${r.userId} rank ${r.rank}, expected ${lo === hi ? lo : `${lo}..${hi}`}`);
      if (seenRanks.has(r.rank)) out.push(`${what}: rank ${r.rank} given twice`);
      seenRanks.add(r.rank);
    }
    for (const userId of this.scores.keys())
      if (!seenUsers.has(userId)) out.push(`${what}: user ${userId} missing`);
    return out;
  }
}

/** The sum of energy per user with each (user, seq) counted once, from a log of what was sent. */
export function scoresFromSent(
  sent: Iterable<{ userId: string; seq: number; energy: number }>,
): Map<string, number> {
  const seen = new Set<string>();
  const scores = new Map<string, number>();
  for (const r of sent) {
    const key = `${r.userId}/${r.seq}`;
    if (!scores.has(r.userId)) scores.set(r.userId, 0);
    if (seen.has(key)) continue;
    seen.add(key);
    scores.set(r.userId, scores.get(r.userId)! + r.energy);
  }
  return scores;
}
