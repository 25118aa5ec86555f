import { ClickHouseTable } from '@pulse/contracts';
import type { ClickHouseClient } from '../infra/clickhouse.js';
import type { WorkoutSession } from '../sessions/session.entity.js';
import { sessionSnapshot } from '../sessions/session-view.js';
import { clickhouseRows } from './clickhouse-rows.js';
import type { ResultsPage, SessionResults } from './results-view.js';
import { sqlUuid } from './sql.js';

/**
 * Results while a session is live: what the engine last flushed to ClickHouse (ReplacingMergeTree tables,
 * hence FINAL). Four small queries per request; ended sessions are served frozen instead (FrozenResults).
 */
export class LiveResults {
  constructor(
    private readonly clickhouse: ClickHouseClient,
    private readonly db: string,
  ) {}

  async results(session: WorkoutSession, userId: string, page: ResultsPage): Promise<SessionResults> {
    const sid = sqlUuid(session.id);
    const uid = sqlUuid(userId);
    const t = (table: string) => `${this.db}.${table}`;
    // Only validated UUIDs and integers are interpolated: ClickHouse 18.16 has no query parameters.
    const [summary, board, mine, minutes] = await Promise.all([
      this.rows<{ final: number }>(
        `SELECT final FROM ${t(ClickHouseTable.SESSION_RESULTS)} FINAL WHERE session_id = ${sid} LIMIT 1`,
      ),
      this.rows<{ user_id: string; name: string; rank: number; score: number; calories: number }>(
        `SELECT user_id, name, rank, score, calories FROM ${t(ClickHouseTable.STANDINGS)} FINAL
         WHERE session_id = ${sid} AND rank > ${Math.trunc(page.afterRank)}
         ORDER BY rank, user_id LIMIT ${Math.trunc(page.limit) + 1}`,
      ),
      this.rows<{ rank: number; score: number; calories: number; avg_energy: number }>(
        `SELECT rank, score, calories, avg_energy FROM ${t(ClickHouseTable.STANDINGS)} FINAL
         WHERE session_id = ${sid} AND user_id = ${uid} LIMIT 1`,
      ),
      this.rows<{ minute: number; avg_energy: number; max_energy: number; samples: number }>(
        `SELECT minute, avg_energy, max_energy, samples FROM ${t(ClickHouseTable.MINUTES)} FINAL
         WHERE session_id = ${sid} AND user_id = ${uid} ORDER BY minute`,
      ),
    ]);
    const items = board.slice(0, page.limit).map((r) => ({
      rank: Number(r.rank),
      userId: r.user_id,
      name: r.name,
      score: Number(r.score),
      calories: Number(r.calories),
    }));
    const last = items.at(-1);
    const result: SessionResults = {
      session: sessionSnapshot(session),
      final: Number(summary[0]?.final ?? 0) === 1,
      leaderboard: { items, nextCursor: board.length > page.limit && last ? String(last.rank) : null },
    };
    const me = mine[0];
    if (me !== undefined) {
      result.me = {
        rank: Number(me.rank),
        score: Number(me.score),
        calories: Number(me.calories),
        avgEnergy: Number(me.avg_energy),
        minutes: minutes.map((m) => ({
          minute: Number(m.minute),
          avgEnergy: Number(m.avg_energy),
          maxEnergy: Number(m.max_energy),
          samples: Number(m.samples),
        })),
      };
    }
    return result;
  }

  private rows<T>(query: string): Promise<T[]> {
    return clickhouseRows<T>(this.clickhouse, query);
  }
}
