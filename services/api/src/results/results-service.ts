import type { MikroORM } from '@mikro-orm/postgresql';
import { ClickHouseTable } from '@pulse/contracts';
import type { SessionSnapshot } from '@pulse/contracts';
import { NotFound, Unavailable } from '../errors.js';
import type { ClickHouseClient } from '../infra/clickhouse.js';
import type { Page } from '../pagination.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { sessionSnapshot } from '../sessions/session-view.js';
import { assertAllowed } from '../sessions/state-machine.js';
import { sqlUuid } from './sql.js';

export interface LeaderboardEntry {
  rank: number;
  userId: string;
  name: string;
  score: number;
  calories: number;
}
export interface MinuteView {
  minute: number;
  avgEnergy: number;
  maxEnergy: number;
  samples: number;
}
export interface MyResult {
  rank: number;
  score: number;
  calories: number;
  avgEnergy: number;
  minutes: MinuteView[];
}
export interface SessionResults {
  session: SessionSnapshot;
  final: boolean;
  leaderboard: Page<LeaderboardEntry>;
  me?: MyResult;
}

/** Reads what the live engine stores in ClickHouse (ReplacingMergeTree tables, hence FINAL). */
export class ResultsService {
  constructor(
    private readonly orm: MikroORM,
    private readonly clickhouse: ClickHouseClient,
    private readonly db: string,
  ) {}

  async results(
    sessionId: string,
    userId: string,
    page: { limit: number; afterRank: number },
  ): Promise<SessionResults> {
    const session = await this.orm.em.fork().findOne(WorkoutSession, sessionId);
    if (session === null) throw new NotFound('session', sessionId);
    assertAllowed(session, 'results');
    const sid = sqlUuid(sessionId);
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

  private async rows<T>(query: string): Promise<T[]> {
    return clickhouseRows<T>(this.clickhouse, query);
  }
}

export async function clickhouseRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  try {
    const result = await client.query({ query, format: 'JSONEachRow' });
    return await result.json<T>();
  } catch (cause) {
    throw new Unavailable('clickhouse', cause);
  }
}
