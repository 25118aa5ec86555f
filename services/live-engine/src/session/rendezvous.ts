import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest-random-weight) hashing: every engine computes, for each session, a weight per live
 * member and the heaviest member owns the session. All engines that see the same members agree without
 * talking; sessions spread evenly; when a member leaves only its sessions move, when one joins it takes
 * about 1/n of everyone's.
 */
export function rendezvousWeight(sessionId: string, memberId: string): number {
  const digest = createHash('sha256').update(sessionId).update('\u0000').update(memberId).digest();
  return digest.readUIntBE(0, 6); // 48 bits: exact in a double
}

/** The member that owns `sessionId` among `members` (ties, practically impossible, go to the smaller id). */
export function rendezvousOwner(sessionId: string, members: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const member of members) {
    const weight = rendezvousWeight(sessionId, member);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && member < best)) {
      best = member;
      bestWeight = weight;
    }
  }
  return best;
}
