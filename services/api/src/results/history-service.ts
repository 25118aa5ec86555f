import type { MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { ClickHouseTable } from '@pulse/contracts';
import type { SessionSnapshot } from '@pulse/contracts';
import type { ClickHouseClient } from '../infra/clickhouse.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import type { Page } from '../pagination.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { sessionSnapshot } from '../sessions/session-view.js';
import { clickhouseRows } from './results-service.js';
import { sqlUuid } from './sql.js';

export interface HistoryEntry {
  session: SessionSnapshot;
  rank: number | null;
  participants: number | null;
  score: number | null;
  calories: number | null;
  avgEnergy: number | null;
}
const HistoryCursor = z.object({ endedAt: z.string().datetime(), id: z.string().uuid() });

interface StandingNumbers {
  session_id: string;
  rank: number;
  participants: number;
  score: number;
  calories: number;
  avg_energy: number;
}

/** Ended sessions the trainee joined, newest first; their numbers come from ClickHouse in one query a page. */
export class HistoryService {
  constructor(
    private readonly orm: MikroORM,
    private readonly clickhouse: ClickHouseClient,
    private readonly db: string,
  ) {}

  async history(traineeId: string, page: { limit: number; cursor?: string }): Promise<Page<HistoryEntry>> {
    const em = this.orm.em.fork();
    const params: unknown[] = [traineeId];
    let after = '';
    if (page.cursor !== undefined) {
      const c = decodeCursor(page.cursor, HistoryCursor);
      after = 'and (s.ended_at, s.id) < (?, ?)';
      params.push(new Date(c.endedAt), c.id);
    }
    params.push(page.limit + 1);
    const raw: Record<string, unknown>[] = await em.getConnection().execute(
      `select s.* from registration r join workout_session s on s.id = r.session_id
       where r.trainee_id = ? and r.joined_at is not null and s.status = 'ended' ${after}
       order by s.ended_at desc, s.id desc limit ?`,
      params,
    );
    const sessions = raw.slice(0, page.limit).map((row) => em.map(WorkoutSession, row));
    const numbers = await this.numbers(
      traineeId,
      sessions.map((s) => s.id),
    );
    const last = sessions.at(-1);
    return {
      items: sessions.map((s) => {
        const n = numbers.get(s.id);
        return {
          session: sessionSnapshot(s),
          rank: n ? Number(n.rank) : null,
          participants: n ? Number(n.participants) : null,
          score: n ? Number(n.score) : null,
          calories: n ? Number(n.calories) : null,
          avgEnergy: n ? Number(n.avg_energy) : null,
        };
      }),
      nextCursor:
        raw.length > page.limit && last
          ? encodeCursor({ endedAt: last.endedAt!.toISOString(), id: last.id })
          : null,
    };
  }

  private async numbers(traineeId: string, sessionIds: string[]): Promise<Map<string, StandingNumbers>> {
    const result = new Map<string, StandingNumbers>();
    if (sessionIds.length === 0) return result;
    const rows = await clickhouseRows<StandingNumbers>(
      this.clickhouse,
      `SELECT session_id, rank, participants, score, calories, avg_energy
       FROM ${this.db}.${ClickHouseTable.STANDINGS} FINAL
       WHERE user_id = ${sqlUuid(traineeId)} AND session_id IN (${sessionIds.map(sqlUuid).join(', ')})`,
    );
    for (const row of rows) result.set(row.session_id, row);
    return result;
  }
}
