import { BAND_TOP_SIZE, type BandBoard, type RankSnapshot, type TopEntry } from '@pulse/contracts';

/** Entries in a snapshot's `top` (the contract's rank frame carries ten). */
const TOP_SIZE = 10;

/**
 * Reads one rank snapshot chunk from the engine, cheaply: the subject is the engine's own, so instead of
 * running the zod schema over every entry (thousands per chunk, several chunks a second) it checks the shape
 * — scalar fields, equal column lengths, element types (every value ends up inside a JSON frame), `top`
 * entries with exactly the contract's fields. (The contract's zod schema on `top`, UUID pattern included, was
 * 3-4 % of a gateway's CPU at 500 sessions: issue 12.) Null when the chunk is not a snapshot of
 * `sessionId`.
 */
export function readRankSnapshot(text: string, sessionId: string): RankSnapshot | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const s = raw as Record<string, unknown>;
  if (s.sessionId !== sessionId) return null;
  if (!isInt(s.tick) || !isInt(s.at) || !isInt(s.participants) || !isInt(s.chunk) || !isInt(s.chunks))
    return null;
  if (s.delta !== undefined && typeof s.delta !== 'boolean') return null;
  const { userIds, ranks, scores, seqs } = s;
  if (!Array.isArray(userIds) || !Array.isArray(ranks) || !Array.isArray(scores) || !Array.isArray(seqs))
    return null;
  const n = userIds.length;
  if (ranks.length !== n || scores.length !== n || seqs.length !== n) return null;
  for (let i = 0; i < n; i++) {
    if (typeof userIds[i] !== 'string' || !isInt(ranks[i]) || !isFiniteNumber(scores[i]) || !isInt(seqs[i]))
      return null;
  }
  if (!topOk(s.top, TOP_SIZE)) return null;
  if (!bandColumnsOk(s, n)) return null;
  return s as unknown as RankSnapshot;
}

/** The age-band columns (issue 16): all three or none, as long as the entries, `bands` small and valid. */
function bandColumnsOk(s: Record<string, unknown>, n: number): boolean {
  const { bandOf, bandRanks, bands } = s;
  if (bandOf === undefined && bandRanks === undefined && bands === undefined) return true;
  if (!Array.isArray(bandOf) || !Array.isArray(bandRanks) || bandOf.length !== n || bandRanks.length !== n) {
    return false;
  }
  if (!Array.isArray(bands) || !bands.every(bandBoardOk)) return false;
  for (let i = 0; i < n; i++) {
    const b = bandOf[i];
    if (!isInt(b) || b < -1 || b >= bands.length || !isInt(bandRanks[i]) || bandRanks[i] < 0) return false;
  }
  return true;
}

/** A band's board, or null when nobody is in the band. */
function bandBoardOk(board: unknown): board is BandBoard | null {
  if (board === null) return true;
  if (typeof board !== 'object' || Object.keys(board).length !== 2) return false;
  const { participants, top } = board as Record<string, unknown>;
  return isInt(participants) && participants >= 0 && topOk(top, BAND_TOP_SIZE);
}

/** Top entries with exactly `rank`, `userId`, `name` and `score`, as the rank frame's contract has them. */
function topOk(top: unknown, max: number): top is TopEntry[] {
  if (!Array.isArray(top) || top.length > max) return false;
  for (const entry of top) {
    if (typeof entry !== 'object' || entry === null || Object.keys(entry).length !== 4) return false;
    const { rank, userId, name, score } = entry as Record<string, unknown>;
    if (!isInt(rank) || rank < 1 || typeof userId !== 'string' || typeof name !== 'string') return false;
    if (!isFiniteNumber(score)) return false;
  }
  return true;
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
