import { z } from 'zod';
import type { RatingMessage } from './nats.js';

/**
 * A gateway's ratings of one partition over one window (issue 12), as ONE JetStream message on
 * `natsNames.ratingBatch(partition, gatewayId)`: a message per rating cost NATS and the Node client 5–15× a
 * batch (MACHINE-FACTS). Compact JSON grouped by session: `{"s":{"<sid>":[[uid,seq,energy,ts],...]}}`, about
 * 70 bytes a rating, so a 1,000-rating batch stays far below NATS's 1 MB payload limit.
 */
export interface RatingBatch {
  readonly s: Record<string, Array<[string, number, number, number]>>;
}

/** Most ratings a gateway puts in one batch message (about 70 KB). */
export const RATING_BATCH_MAX = 1_000;

export function encodeRatingBatch(bySession: ReadonlyMap<string, RatingMessage[]>): string {
  const s: RatingBatch['s'] = {};
  for (const [sessionId, ratings] of bySession) {
    s[sessionId] = ratings.map((r) => [r.userId, r.seq, r.energy, r.ts]);
  }
  return JSON.stringify({ s } satisfies RatingBatch);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_SEQ = 2 ** 31 - 1;

/**
 * The ratings of a batch grouped by session, or an error naming the first bad field. Checked by shape (ids,
 * integer seq and ts, energy 0..100) without zod per entry: a batch carries up to RATING_BATCH_MAX ratings.
 */
export function decodeRatingBatch(
  data: string,
): { ok: true; sessions: Map<string, RatingMessage[]> } | { ok: false; error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const s = (parsed as Partial<RatingBatch> | null)?.s;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return { ok: false, error: 'no sessions' };
  const sessions = new Map<string, RatingMessage[]>();
  for (const [sessionId, entries] of Object.entries(s)) {
    if (!UUID.test(sessionId) || !Array.isArray(entries)) return { ok: false, error: `session ${sessionId}` };
    const ratings: RatingMessage[] = [];
    for (const e of entries as unknown[]) {
      if (!Array.isArray(e) || e.length !== 4)
        return { ok: false, error: 'entry is not [uid, seq, energy, ts]' };
      const [userId, seq, energy, ts] = e as unknown[];
      if (typeof userId !== 'string' || !UUID.test(userId)) return { ok: false, error: 'userId' };
      if (!Number.isInteger(seq) || (seq as number) < 1 || (seq as number) > MAX_SEQ)
        return { ok: false, error: 'seq' };
      if (typeof energy !== 'number' || !(energy >= 0 && energy <= 100))
        return { ok: false, error: 'energy' };
      if (!Number.isInteger(ts)) return { ok: false, error: 'ts' };
      ratings.push({ kind: 'rating', sessionId, userId, seq: seq as number, energy, ts: ts as number });
    }
    sessions.set(sessionId, ratings);
  }
  return { ok: true, sessions };
}

/**
 * Message id of a batch: per (gateway, gateway incarnation, partition, batch seq), so that a publish the client
 * retried is stored once, while a restarted gateway (same id, seq from 1) is never taken for a duplicate.
 */
export const ratingBatchMsgId = (
  gatewayId: string,
  incarnation: string,
  partition: number,
  batchSeq: number,
): string => `${gatewayId}.${incarnation}.${partition}.${batchSeq}`;

/** A gateway asks the owner of a session's partition for a user's last counted seq (its `welcome.lastSeq`). */
export const LastSeqRequest = z.object({ sessionId: z.string().uuid(), userId: z.string().uuid() });
export type LastSeqRequest = z.infer<typeof LastSeqRequest>;
export const LastSeqReply = z.object({
  lastSeq: z.number().int().min(0),
  /**
   * The session's results are frozen and `lastSeq` is the user's last counted seq in them (issue 14): a socket
   * connecting after the end is told it in `ended.lastSeq`. Absent while the session runs or when the engine no
   * longer remembers the frozen session.
   */
  final: z.literal(true).optional(),
});
export type LastSeqReply = z.infer<typeof LastSeqReply>;
