import { BandBoard, TopEntry, type RankSnapshot } from '@pulse/contracts';
import { z } from 'zod';

const Top = z.array(TopEntry).max(10);
const Bands = z.array(BandBoard.nullable());

/**
 * Reads one rank snapshot chunk from the engine, cheaply: the subject is the engine's own, so instead of
 * running the zod schema over every entry (thousands per chunk, several chunks a second) it checks the shape
 * — scalar fields, equal column lengths, element types (every value ends up inside a JSON frame) — and
 * validates only the small `top` with the contract's schema. Null when the chunk is not a snapshot of
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
  const top = Top.safeParse(s.top);
  if (!top.success) return null;
  if (!bandColumnsOk(s, n)) return null;
  return { ...(s as unknown as RankSnapshot), top: top.data };
}

/** The age-band columns (issue 16): all three or none, as long as the entries, `bands` small and valid. */
function bandColumnsOk(s: Record<string, unknown>, n: number): boolean {
  const { bandOf, bandRanks, bands } = s;
  if (bandOf === undefined && bandRanks === undefined && bands === undefined) return true;
  if (!Array.isArray(bandOf) || !Array.isArray(bandRanks) || bandOf.length !== n || bandRanks.length !== n) {
    return false;
  }
  const boards = Bands.safeParse(bands);
  if (!boards.success) return false;
  for (let i = 0; i < n; i++) {
    const b = bandOf[i];
    if (!isInt(b) || b < -1 || b >= boards.data.length || !isInt(bandRanks[i]) || bandRanks[i] < 0)
      return false;
  }
  return true;
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
