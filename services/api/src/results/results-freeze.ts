import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { ClickHouseTable } from '@pulse/contracts';
import type { ClickHouseClient } from '../infra/clickhouse.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { sessionSnapshot } from '../sessions/session-view.js';
import { clickhouseRows } from './clickhouse-rows.js';
import { sqlUuid } from './sql.js';

/** `frozen`: the rows are in PostgreSQL; `pending`: ClickHouse is not final yet; `not-ended`: nothing to do. */
export type FreezeOutcome = 'frozen' | 'pending' | 'not-ended';

/** One minute as stored in `session_result.minutes`: [minute, avgEnergy, maxEnergy, samples]. */
export type MinuteTuple = [number, number, number, number];

interface StandingRead {
  user_id: string;
  name: string;
  rank: number;
  score: number;
  calories: number;
  avg_energy: number;
  samples: number;
  final: number;
}
interface MinuteRead {
  user_id: string;
  minute: number;
  avg_energy: number;
  max_energy: number;
  samples: number;
}

/**
 * Copies an ended session's final results from ClickHouse into PostgreSQL, once.
 *
 * When: the session is `ended` in PostgreSQL and the engine wrote its session row with `final = 1` (it
 * writes standings and minutes first, then that row, all of one final version). The standings read must
 * then hold exactly `participants` rows, all final, ranks 1..n; anything else is treated as not final yet.
 *
 * Safe with several API replicas: the freeze row is inserted first with `on conflict do nothing` in the
 * transaction that inserts the participants' rows. A second replica's insert waits on the primary key
 * until the first commits, then inserts nothing and leaves. Readers look for the freeze row, which is
 * committed together with every row of the board, so nobody ever sees part of one.
 */
export class ResultsFreezer {
  private readonly inFlight = new Map<string, Promise<FreezeOutcome>>();

  constructor(
    private readonly orm: MikroORM,
    private readonly clickhouse: ClickHouseClient,
    private readonly db: string,
    private readonly log: Logger,
  ) {}

  /** Single-flight per session in this process: concurrent callers share one attempt. */
  freeze(sessionId: string): Promise<FreezeOutcome> {
    let attempt = this.inFlight.get(sessionId);
    if (attempt === undefined) {
      attempt = this.attempt(sessionId).finally(() => this.inFlight.delete(sessionId));
      this.inFlight.set(sessionId, attempt);
    }
    return attempt;
  }

  /** Which of `sessionIds` ClickHouse marks final, in one query. */
  async finalAmong(sessionIds: string[]): Promise<string[]> {
    if (sessionIds.length === 0) return [];
    // `final` is filtered here, not in WHERE: a condition on a non-key column may be applied before FINAL
    // collapses the versions.
    const rows = await clickhouseRows<{ session_id: string; final: number }>(
      this.clickhouse,
      `SELECT session_id, final FROM ${this.db}.${ClickHouseTable.SESSION_RESULTS} FINAL
       WHERE session_id IN (${sessionIds.map(sqlUuid).join(', ')})`,
    );
    return rows.filter((r) => Number(r.final) === 1).map((r) => r.session_id);
  }

  private async attempt(sessionId: string): Promise<FreezeOutcome> {
    const em = this.orm.em.fork();
    const done = await em.execute('select 1 from session_result_freeze where session_id = ?', [sessionId]);
    if (done.length > 0) return 'frozen';
    const session = await em.findOne(WorkoutSession, sessionId);
    if (session === null || session.status !== 'ended' || session.endedAt === null) return 'not-ended';
    const started = performance.now();
    const board = await this.readFinal(sessionId);
    if (board === null) return 'pending';
    const stored = await this.store(session, board);
    this.log.info(
      {
        sessionId,
        participants: board.length,
        ms: Math.round(performance.now() - started),
        byThisReplica: stored,
      },
      'session results frozen into PostgreSQL',
    );
    return 'frozen';
  }

  /** The final board with each participant's minutes, or null while ClickHouse is not final. */
  private async readFinal(sessionId: string) {
    const sid = sqlUuid(sessionId);
    const t = (table: string) => `${this.db}.${table}`;
    const [summary] = await clickhouseRows<{ participants: number; final: number }>(
      this.clickhouse,
      `SELECT participants, final FROM ${t(ClickHouseTable.SESSION_RESULTS)} FINAL WHERE session_id = ${sid}`,
    );
    if (summary === undefined || Number(summary.final) !== 1) return null;
    const [standings, minutes] = await Promise.all([
      clickhouseRows<StandingRead>(
        this.clickhouse,
        `SELECT user_id, name, rank, score, calories, avg_energy, samples, final
         FROM ${t(ClickHouseTable.STANDINGS)} FINAL WHERE session_id = ${sid} ORDER BY rank`,
      ),
      clickhouseRows<MinuteRead>(
        this.clickhouse,
        `SELECT user_id, minute, avg_energy, max_energy, samples
         FROM ${t(ClickHouseTable.MINUTES)} FINAL WHERE session_id = ${sid} ORDER BY user_id, minute`,
      ),
    ]);
    const consistent =
      standings.length === Number(summary.participants) &&
      standings.every((s, i) => Number(s.final) === 1 && Number(s.rank) === i + 1);
    if (!consistent) {
      this.log.warn(
        { sessionId, participants: Number(summary.participants), rows: standings.length },
        'ClickHouse says final but the standings are not a complete final board yet; retrying later',
      );
      return null;
    }
    const byUser = new Map<string, MinuteTuple[]>();
    for (const m of minutes) {
      let list = byUser.get(m.user_id);
      if (list === undefined) byUser.set(m.user_id, (list = []));
      list.push([Number(m.minute), Number(m.avg_energy), Number(m.max_energy), Number(m.samples)]);
    }
    return standings.map((s) => ({
      user_id: s.user_id,
      rank: Number(s.rank),
      name: s.name,
      score: Number(s.score),
      calories: Number(s.calories),
      avg_energy: Number(s.avg_energy),
      samples: Number(s.samples),
      minutes: byUser.get(s.user_id) ?? [],
    }));
  }

  /** One transaction; returns false when another replica had frozen the session already. */
  private async store(session: WorkoutSession, board: object[]): Promise<boolean> {
    const endedAt = session.endedAt!;
    return this.orm.em.fork().transactional(async (tx) => {
      const claimed = await tx.execute(
        `insert into session_result_freeze (session_id, participants, session, ended_at)
         values (?, ?, ?::jsonb, ?) on conflict do nothing returning session_id`,
        [session.id, board.length, JSON.stringify(sessionSnapshot(session)), endedAt],
      );
      if (claimed.length === 0) return false;
      // The whole board as one JSON parameter: one statement and one round trip for 10,000 rows.
      await tx.execute(
        `insert into session_result
           (session_id, user_id, rank, name, score, calories, avg_energy, samples, minutes, ended_at)
         select ?, x.user_id, x.rank, x.name, x.score, x.calories, x.avg_energy, x.samples, x.minutes, ?
         from json_to_recordset(?::json) as x(user_id uuid, rank integer, name text, score float8,
           calories float8, avg_energy float8, samples integer, minutes jsonb)
         on conflict do nothing`,
        [session.id, endedAt, JSON.stringify(board)],
      );
      // Trainees who joined but never reached the board still have the session in their history.
      await tx.execute(
        `insert into session_result (session_id, user_id, name, ended_at)
         select r.session_id, r.trainee_id, u.name, ?
         from registration r join app_user u on u.id = r.trainee_id
         where r.session_id = ? and r.joined_at is not null
         on conflict do nothing`,
        [endedAt, session.id],
      );
      return true;
    });
  }
}
