import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { SessionSnapshot } from '@pulse/contracts';
import type { ClickHouseClient } from '../infra/clickhouse.js';
import { executeBound } from '../db/prepared.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { sessionSnapshot } from '../sessions/session-view.js';
import { FinalBoards } from './final-boards.js';
import { insertBoards } from './personal-boards.js';
import type { BoardRow } from './final-boards.js';

/** `frozen`: the rows are in PostgreSQL; `pending`: ClickHouse is not final yet; `not-ended`: nothing to do. */
export type FreezeOutcome = 'frozen' | 'pending' | 'not-ended';

/** What a replica learns when it froze a session itself: enough to serve it without reading it back. */
export type FrozenListener = (
  sessionId: string,
  frozen: { session: SessionSnapshot; participants: number; frozenAt: Date },
  board: readonly BoardRow[],
) => void;

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
 *
 * Batched: the sessions asked for within one turn of the event loop are frozen together, with one query
 * per ClickHouse table and one PostgreSQL transaction, so 500 classes ending at the top of the hour cost a
 * handful of round trips instead of 500 × 5 (measured: 500 × 20 took 14 s one by one on the loaded box).
 * One batch at a time: the sessions asked for while one runs are the next batch, all of them, so apps asking
 * as each class ends make a few large batches instead of dozens of small ones side by side (each with its
 * five round trips, all competing for ClickHouse and PostgreSQL).
 */
export class ResultsFreezer {
  private readonly listeners: FrozenListener[] = [];
  private readonly inFlight = new Map<string, Promise<FreezeOutcome>>();
  private queued = new Map<string, { resolve(o: FreezeOutcome): void; reject(err: unknown): void }>();
  private flushScheduled = false;
  private flushing = false;
  private readonly boards: FinalBoards;

  constructor(
    private readonly orm: MikroORM,
    clickhouse: ClickHouseClient,
    db: string,
    private readonly log: Logger,
  ) {
    this.boards = new FinalBoards(clickhouse, db, log);
  }

  /** Called after each commit of a session this replica froze (FrozenResults primes its caches). */
  onFrozen(listener: FrozenListener): void {
    this.listeners.push(listener);
  }

  /** Single-flight per session in this process: concurrent callers share one attempt. */
  freeze(sessionId: string): Promise<FreezeOutcome> {
    let attempt = this.inFlight.get(sessionId);
    if (attempt === undefined) {
      attempt = new Promise<FreezeOutcome>((resolve, reject) =>
        this.queued.set(sessionId, { resolve, reject }),
      );
      this.inFlight.set(sessionId, attempt);
      // While a batch runs, the next one gathers: the running flush takes it when done.
      if (!this.flushScheduled && !this.flushing) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    }
    return attempt;
  }

  /** Which of `sessionIds` ClickHouse marks final, in one query. */
  async finalAmong(sessionIds: string[]): Promise<string[]> {
    if (sessionIds.length === 0) return [];
    const rows = await this.boards.summaries(sessionIds);
    return rows.filter((r) => Number(r.final) === 1).map((r) => r.session_id);
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    this.flushing = true;
    try {
      while (this.queued.size > 0) {
        const batch = this.queued;
        this.queued = new Map();
        const ids = [...batch.keys()];
        for (let i = 0; i < ids.length; i += FREEZE_BATCH) {
          const chunk = ids.slice(i, i + FREEZE_BATCH);
          try {
            const outcomes = await this.attempt(chunk);
            for (const id of chunk) batch.get(id)!.resolve(outcomes.get(id) ?? 'not-ended');
          } catch (err) {
            for (const id of chunk) batch.get(id)!.reject(err);
          } finally {
            for (const id of chunk) this.inFlight.delete(id);
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async attempt(sessionIds: string[]): Promise<Map<string, FreezeOutcome>> {
    const outcomes = new Map<string, FreezeOutcome>();
    const em = this.orm.em.fork();
    const done: Array<{ session_id: string }> = await em.execute(
      `select session_id from session_result_freeze where session_id in (${sessionIds.map(() => '?').join(', ')})`,
      sessionIds,
    );
    for (const { session_id } of done) outcomes.set(session_id, 'frozen');
    const open = sessionIds.filter((id) => !outcomes.has(id));
    if (open.length === 0) return outcomes;
    const ended = (await em.find(WorkoutSession, { id: { $in: open } })).filter(
      (s) => s.status === 'ended' && s.endedAt !== null,
    );
    if (ended.length === 0) return outcomes;
    const started = performance.now();
    const boards = await this.boards.read(ended.map((s) => s.id));
    const ready = ended.filter((s) => boards.has(s.id));
    for (const s of ended) if (!boards.has(s.id)) outcomes.set(s.id, 'pending');
    if (ready.length === 0) return outcomes;
    const readMs = Math.round(performance.now() - started);
    const claimed = await this.store(ready, boards);
    for (const s of ready) outcomes.set(s.id, 'frozen');
    for (const { session, frozenAt } of claimed)
      for (const listener of this.listeners)
        listener(
          session.id,
          { session: sessionSnapshot(session), participants: boards.get(session.id)!.length, frozenAt },
          boards.get(session.id)!,
        );
    this.log.info(
      {
        sessions: ready.length,
        sessionId: ready.length === 1 ? ready[0].id : undefined,
        participants: ready.reduce((n, s) => n + boards.get(s.id)!.length, 0),
        ms: Math.round(performance.now() - started),
        readMs,
        byThisReplica: claimed.length,
      },
      'session results frozen into PostgreSQL',
    );
    return outcomes;
  }

  /**
   * One transaction for the batch; returns the sessions this replica froze (the others had been frozen by
   * another replica meanwhile) with their freeze time.
   */
  private async store(
    sessions: WorkoutSession[],
    boards: Map<string, BoardRow[]>,
  ): Promise<Array<{ session: WorkoutSession; frozenAt: Date }>> {
    return this.orm.em.fork().transactional(async (tx) => {
      const freezes = sessions.map((s) => ({
        session_id: s.id,
        participants: boards.get(s.id)!.length,
        session: sessionSnapshot(s),
        ended_at: s.endedAt!.toISOString(),
      }));
      const claimedRows = await executeBound<{ session_id: string; frozen_at: Date }>(
        tx,
        `insert into session_result_freeze (session_id, participants, session, ended_at)
         select x.session_id, x.participants, x.session, x.ended_at
         from json_to_recordset(?::json) as x(session_id uuid, participants integer, session jsonb,
           ended_at timestamptz)
         on conflict do nothing returning session_id, frozen_at`,
        [JSON.stringify(freezes)],
      );
      const frozenAt = new Map(claimedRows.map((r) => [r.session_id, new Date(r.frozen_at)]));
      const claimed = sessions.filter((s) => frozenAt.has(s.id));
      if (claimed.length === 0) return [];
      const endedAt = new Map(claimed.map((s) => [s.id, s.endedAt!.toISOString()]));
      const rows = claimed.flatMap((s) =>
        boards.get(s.id)!.map((r) => ({ ...r, ended_at: endedAt.get(s.id)! })),
      );
      // Every board as one JSON parameter: one statement and one round trip for 10,000 rows.
      const personal = await insertBoards(tx, rows);
      // Trainees who joined but never reached the board still have the session in their history.
      await executeBound(
        tx,
        `insert into session_result (session_id, user_id, name, ended_at, session_type)
         select r.session_id, r.trainee_id, u.name, s.ended_at, s.type
         from registration r join app_user u on u.id = r.trainee_id join workout_session s on s.id = r.session_id
         where r.session_id in (select value::uuid from json_array_elements_text(?::json))
           and r.joined_at is not null
         on conflict do nothing`,
        [JSON.stringify(claimed.map((s) => s.id))],
      );
      // The replica that froze serves its first requests from these rows: give them the frozen numbers too.
      const byMember = new Map(personal.map((p) => [`${p.session_id}/${p.user_id}`, p]));
      for (const s of claimed)
        for (const row of boards.get(s.id)!) Object.assign(row, byMember.get(`${s.id}/${row.user_id}`));
      return claimed.map((session) => ({ session, frozenAt: frozenAt.get(session.id)! }));
    });
  }
}

/** Sessions frozen together at most (one ClickHouse IN list, one transaction). */
export const FREEZE_BATCH = 200;
