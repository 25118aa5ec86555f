import { AGE_BANDS, type RankSnapshot } from '@pulse/contracts';

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
export function fanOutRanks<R extends RankReceiver>(
  snapshot: RankSnapshot,
  receiversOf: (userId: string) => Iterable<R> | undefined,
  /** A user's own extra fields (`,"following":{…}`), or '' (issue 16), given the receivers just looked up. */
  ownPartOf: (userId: string, receivers: Iterable<R>) => string = () => '',
): number {
  const tail = `,"top":${JSON.stringify(snapshot.top)},"at":"${new Date(snapshot.at).toISOString()}","seq":`;
  const participants = `,"participants":${snapshot.participants},"score":`;
  const { userIds, ranks, scores, seqs, bandOf, bandRanks } = snapshot;
  const bandParts = bandPartsOf(snapshot);
  let offered = 0;
  for (let i = 0; i < userIds.length; i++) {
    const receivers = receiversOf(userIds[i]);
    if (!receivers) continue;
    const band = bandOf === undefined || bandOf[i] < 0 ? undefined : bandParts[bandOf[i]];
    const bandPart =
      band === undefined || bandRanks![i] <= 0 ? '' : `${band.head}${bandRanks![i]}${band.tail}`;
    const own = ownPartOf(userIds[i], receivers);
    const frame = `{"type":"rank","rank":${ranks[i]}${participants}${scores[i]}${tail}${seqs[i]}${bandPart}${own}}`;
    for (const receiver of receivers) {
      receiver.offerRank(frame, seqs[i]);
      offered += 1;
    }
  }
  return offered;
}

/**
 * Each age band's part of a rank frame (issue 16) around the client's own rank in it, encoded once per chunk:
 * `,"band":{"id":…,"participants":…,"top":[…],"rank":` + rank + `}`.
 */
function bandPartsOf(snapshot: RankSnapshot): Array<{ head: string; tail: string } | undefined> {
  if (snapshot.bands === undefined) return [];
  return snapshot.bands.map((board, b) =>
    board === null || AGE_BANDS[b] === undefined
      ? undefined
      : {
          head: `,"band":{"id":"${AGE_BANDS[b].id}","participants":${board.participants},"top":${JSON.stringify(board.top)},"rank":`,
          tail: '}',
        },
  );
}
