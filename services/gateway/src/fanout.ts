import type { RankSnapshot } from '@pulse/contracts';

/** Whoever receives a rank frame (a connection); fan-out only needs this one method. */
export interface RankReceiver {
  /** The user's newest rank frame; `seq` is the highest of its seqs the rank counts. */
  offerRank(frame: string, seq: number): void;
}

/**
 * Turns one chunk of the engine's rank snapshot into each local client's own `rank` frame. The parts
 * shared by every reader (`top`, `at`, participants) are encoded once per chunk; each frame is a string
 * concatenation around them, so the cost per client is a few number-to-string conversions.
 * Returns how many frames were offered.
 */
export function fanOutRanks(
  snapshot: RankSnapshot,
  receiversOf: (userId: string) => Iterable<RankReceiver> | undefined,
): number {
  const tail = `,"top":${JSON.stringify(snapshot.top)},"at":"${new Date(snapshot.at).toISOString()}","seq":`;
  const participants = `,"participants":${snapshot.participants},"score":`;
  const { userIds, ranks, scores, seqs } = snapshot;
  let offered = 0;
  for (let i = 0; i < userIds.length; i++) {
    const receivers = receiversOf(userIds[i]);
    if (!receivers) continue;
    const frame = `{"type":"rank","rank":${ranks[i]}${participants}${scores[i]}${tail}${seqs[i]}}`;
    for (const receiver of receivers) {
      receiver.offerRank(frame, seqs[i]);
      offered += 1;
    }
  }
  return offered;
}
