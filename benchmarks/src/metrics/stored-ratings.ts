import { createClient } from '@clickhouse/client';
import { ClickHouseTable } from '@pulse/contracts';

export interface StoredRatings {
  /** Rows after collapsing duplicates (FINAL): the ratings that count. */
  stored: number;
  /** Distinct (session, user, seq). */
  unique: number;
  /** Per user: count and sum of energy (FINAL). */
  perUser: Map<string, { count: number; energy: number }>;
}

const UUID = /^[0-9a-f-]{36}$/i;

/** Reads what the engine wrote to ClickHouse for these sessions (read-only). */
export async function storedRatings(
  clickhouseUrl: string,
  db: string,
  sessionIds: readonly string[],
): Promise<StoredRatings> {
  if (!sessionIds.every((id) => UUID.test(id))) throw new Error('session ids must be UUIDs');
  const ch = createClient({ url: clickhouseUrl, database: db });
  const inList = sessionIds.map((id) => `'${id}'`).join(',');
  try {
    const totals = await ch.query({
      query: `SELECT count() AS stored, uniqExact(session_id, user_id, seq) AS uniq
              FROM ${db}.${ClickHouseTable.RATINGS} FINAL WHERE session_id IN (${inList})`,
      format: 'JSONEachRow',
    });
    const [row] = await totals.json<{ stored: string; uniq: string }>();
    const users = await ch.query({
      query: `SELECT toString(user_id) AS user, count() AS n, sum(energy) AS e
              FROM ${db}.${ClickHouseTable.RATINGS} FINAL WHERE session_id IN (${inList}) GROUP BY user_id`,
      format: 'JSONEachRow',
    });
    const perUser = new Map<string, { count: number; energy: number }>();
    for (const u of await users.json<{ user: string; n: string; e: number }>()) {
      perUser.set(u.user, { count: Number(u.n), energy: Number(u.e) });
    }
    return { stored: Number(row?.stored ?? 0), unique: Number(row?.uniq ?? 0), perUser };
  } finally {
    await ch.close();
  }
}

/** One stored rating of a user with the gateway's server stamp. */
export interface StoredRating {
  seq: number;
  energy: number;
  tsMs: number;
}

/** A user's stored ratings in seq order, each once (FINAL), with the server time the gateway stamped. */
export async function storedRatingsOf(
  clickhouseUrl: string,
  db: string,
  sessionId: string,
  userId: string,
): Promise<StoredRating[]> {
  if (!UUID.test(sessionId) || !UUID.test(userId)) throw new Error('session and user ids must be UUIDs');
  const ch = createClient({ url: clickhouseUrl, database: db });
  try {
    const rows = await ch.query({
      query: `SELECT seq, energy, ts_ms FROM ${db}.${ClickHouseTable.RATINGS} FINAL
              WHERE session_id = '${sessionId}' AND user_id = '${userId}' ORDER BY seq`,
      format: 'JSONEachRow',
    });
    const list = await rows.json<{ seq: number; energy: number; ts_ms: string | number }>();
    return list.map((r) => ({ seq: Number(r.seq), energy: Number(r.energy), tsMs: Number(r.ts_ms) }));
  } finally {
    await ch.close();
  }
}
