import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import type { ClickHouseClient } from '../infra/clickhouse.js';
import { executeBound } from '../db/prepared.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { sessionSnapshot } from '../sessions/session-view.js';
import { FinalBoards } from './final-boards.js';
import { deferred, within } from './waiting.js';
import { FREEZE_LOCK_SQL, insertBoards, personalNumbersOf, type PersonalRow } from './personal-boards.js';
import type { BoardRow } from './final-boards.js';
import type { FrozenSession } from './frozen-results.js';

/** `frozen`: the rows are in PostgreSQL; `pending`: ClickHouse is not final yet; `not-ended`: nothing to do. */
export type FreezeOutcome = 'frozen' | 'pending' | 'not-ended';

/**
 * What a replica learns of the sessions it freezes itself (FrozenResults serves from it). `decided` comes inside
 * the freeze's transaction, once every number of the board is decided and before the rows are written: the
 * answers are final from then on, so requests need not wait for the write. Then `committed`, or `withdrawn` when
 * the transaction failed after all (what `decided` gave must be forgotten; the next request freezes again).
 */
export interface FreezeListener {
  decided(sessionId: string, frozen: FrozenSession, board: readonly BoardRow[]): void;
  committed(sessionId: string): void;
  withdrawn(sessionId: string): void;
}

/** One session's attempt as its callers see it (`freeze` and `readable`). */
interface FreezeAttempt {
  committed: Promise<FreezeOutcome>;
  readable: Promise<FreezeOutcome>;
}

interface Waiter {
  /** The outcome once the freeze's transaction ended. */
  settle(outcome: FreezeOutcome): void;
  fail(err: unknown): void;
  /** `frozen` as soon as the board is decided (answers may be served), else the final outcome. */
  readable(outcome: FreezeOutcome): void;
}

/**
 * Copies an ended session's final results from ClickHouse into PostgreSQL, once.
 *
 * When: the session is `ended` in PostgreSQL and the engine wrote its session row with `final = 1` (it
 * writes standings and minutes first, then that row, all of one final version). The standings read must
 * then hold exactly `participants` rows, all final, ranks 1..n; anything else is treated as not final yet.
 *
 * Safe with several API replicas: every replica hears of a class's end, but the first to take a session's
 * freezing lock (FREEZING_LOCK_CLASS, held from before the ClickHouse read to the commit) is the only one to read
 * and freeze it; the others wait for its transaction to end and then find the freeze row (or, if it failed,
 * answer `pending` and try again later). The freeze row is inserted with `on conflict do nothing` in the
 * transaction that inserts the participants' rows, so a session is frozen once even if two replicas got there
 * (a hash shared by two sessions, a lock taken after the other's commit). Readers look for the freeze row, which
 * is committed together with every row of the board, so nobody ever sees part of one.
 *
 * Batched: the sessions asked for within one turn of the event loop are frozen together, with one query
 * per ClickHouse table and one PostgreSQL transaction, so 500 classes ending at the top of the hour cost a
 * handful of round trips instead of 500 × 5 (measured: 500 × 20 took 14 s one by one on the loaded box).
 * One batch at a time: the sessions asked for while one runs are the next batch, all of them, so apps asking
 * as each class ends make a few large batches instead of dozens of small ones side by side (each with its
 * five round trips, all competing for ClickHouse and PostgreSQL).
 */
export class ResultsFreezer {
  private readonly listeners: FreezeListener[] = [];
  private readonly inFlight = new Map<string, FreezeAttempt>();
  private queued = new Map<string, Waiter>();
  private flushScheduled = false;
  private flushing = false;
  private readonly boards: FinalBoards;
  /** Requests waiting for sessions this replica has no attempt for yet (`frozenSoon`), with how many wait. */
  private readonly waiting = new Map<string, { ready: ReturnType<typeof deferred<void>>; count: number }>();
  /** Sessions `finalAmong` saw final and not frozen since: their freeze reads ClickHouse in one go. */
  private readonly seenFinal = new LRUCache<string, true>({ max: SEEN_FINAL_CACHED });

  constructor(
    private readonly orm: MikroORM,
    clickhouse: ClickHouseClient,
    db: string,
    private readonly log: Logger,
  ) {
    this.boards = new FinalBoards(clickhouse, db, log);
  }

  /** Told of the sessions this replica freezes (FrozenResults primes its caches). */
  onFrozen(listener: FreezeListener): void {
    this.listeners.push(listener);
  }

  /**
   * Freezes the session if it can be; resolves once the outcome is durable (`frozen`: committed, by this
   * replica or another). Single-flight per session in this process: concurrent callers share one attempt.
   */
  freeze(sessionId: string): Promise<FreezeOutcome> {
    return this.attemptFor(sessionId).committed;
  }

  /**
   * As `freeze`, but resolves `frozen` as soon as this replica's listeners can answer from the decided board,
   * while its rows are still being written (a 10,000-participant class's write took 1.5-2 s on a loaded box;
   * its first answers need not wait for it). The results route waits for this.
   */
  readable(sessionId: string): Promise<FreezeOutcome> {
    return this.attemptFor(sessionId).readable;
  }

  /**
   * Waits up to `waitMs` for this replica to make the session readable (its own freeze decided it, or found it
   * frozen by another replica); true if it did. Starts no attempt: a request waits for the FreezeWatch's freeze,
   * which follows the engine's notice, instead of queueing attempts of its own in front of it.
   */
  async frozenSoon(sessionId: string, waitMs: number): Promise<boolean> {
    const attempt = this.inFlight.get(sessionId);
    if (attempt !== undefined)
      return within(
        attempt.readable.then((o) => o === 'frozen'),
        waitMs,
        false,
      );
    let wait = this.waiting.get(sessionId);
    if (wait === undefined) this.waiting.set(sessionId, (wait = { ready: deferred<void>(), count: 0 }));
    wait.count += 1;
    try {
      return await within(
        wait.ready.promise.then(() => true),
        waitMs,
        false,
      );
    } finally {
      if (--wait.count === 0 && this.waiting.get(sessionId) === wait) this.waiting.delete(sessionId);
    }
  }

  private attemptFor(sessionId: string): FreezeAttempt {
    const known = this.inFlight.get(sessionId);
    if (known !== undefined) return known;
    const committed = deferred<FreezeOutcome>();
    const readable = deferred<FreezeOutcome>();
    this.queued.set(sessionId, {
      settle: (outcome) => (committed.resolve(outcome), readable.resolve(outcome)),
      fail: (err) => (committed.reject(err), readable.reject(err)),
      readable: readable.resolve,
    });
    const attempt = { committed: committed.promise, readable: readable.promise };
    this.inFlight.set(sessionId, attempt);
    readable.promise.then(
      (outcome) => outcome === 'frozen' && this.waiting.get(sessionId)?.ready.resolve(),
      () => undefined,
    );
    // While a batch runs, the next one gathers: the running flush takes it when done.
    if (!this.flushScheduled && !this.flushing) {
      this.flushScheduled = true;
      setImmediate(() => void this.flush());
    }
    return attempt;
  }

  /** Which of `sessionIds` ClickHouse marks final, in one query. */
  async finalAmong(sessionIds: string[]): Promise<string[]> {
    if (sessionIds.length === 0) return [];
    const rows = await this.boards.summaries(sessionIds);
    const final = rows.filter((r) => Number(r.final) === 1).map((r) => r.session_id);
    for (const id of final) this.seenFinal.set(id, true);
    return final;
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
            const outcomes = await this.attempt(chunk, (id) => batch.get(id)!.readable('frozen'));
            for (const id of chunk) batch.get(id)!.settle(outcomes.get(id) ?? 'not-ended');
          } catch (err) {
            for (const id of chunk) batch.get(id)!.fail(err);
          } finally {
            for (const id of chunk) this.inFlight.delete(id);
          }
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** `readable(id)` is called for each session this replica froze, once its board is decided. */
  private async attempt(
    sessionIds: string[],
    readable: (sessionId: string) => void,
  ): Promise<Map<string, FreezeOutcome>> {
    const outcomes = new Map<string, FreezeOutcome>();
    const em = this.orm.em.fork();
    for (const id of await this.frozenAmong(em, sessionIds)) outcomes.set(id, 'frozen');
    const open = sessionIds.filter((id) => !outcomes.has(id));
    if (open.length === 0) return outcomes;
    const ended = (await em.find(WorkoutSession, { id: { $in: open } })).filter(
      (s) => s.status === 'ended' && s.endedAt !== null,
    );
    if (ended.length === 0) return outcomes;
    const started = performance.now();
    const stages = { readMs: 0, decidedMs: 0, writeMs: 0 };
    const { boards, claimed, elsewhere } = await this.store(
      ended,
      async (ids) => {
        const read = await this.boards.read(
          ids,
          ids.every((id) => this.seenFinal.get(id) !== undefined),
        );
        for (const id of read.keys()) this.seenFinal.delete(id);
        stages.readMs = Math.round(performance.now() - started);
        return read;
      },
      (decided, read) => {
        stages.decidedMs = Math.round(performance.now() - started);
        for (const { session, frozenAt } of decided) {
          const board = read.get(session.id)!;
          const frozen = { session: sessionSnapshot(session), participants: board.length, frozenAt };
          for (const listener of this.listeners) listener.decided(session.id, frozen, board);
          readable(session.id);
        }
      },
    );
    stages.writeMs = Math.round(performance.now() - started) - stages.decidedMs;
    for (const s of ended)
      if (!elsewhere.includes(s.id)) outcomes.set(s.id, boards.has(s.id) ? 'frozen' : 'pending');
    if (elsewhere.length > 0) {
      // Another replica is freezing these: wait for its transaction to end instead of reading them as well.
      const waitStarted = performance.now();
      // A wait cut short (the statement timeout) leaves what is not frozen yet `pending`, asked again later.
      await this.othersDone(elsewhere).catch((err: unknown) =>
        this.log.warn({ err, sessions: elsewhere }, 'waiting for another replica’s freeze failed'),
      );
      const frozen = new Set(await this.frozenAmong(em, elsewhere));
      for (const id of elsewhere) outcomes.set(id, frozen.has(id) ? 'frozen' : 'pending');
      this.log.info(
        {
          sessions: elsewhere.length,
          frozen: frozen.size,
          waitedMs: Math.round(performance.now() - waitStarted),
        },
        'session results frozen by another replica',
      );
    }
    if (boards.size === 0) return outcomes;
    this.log.info(
      {
        sessions: boards.size,
        sessionId: boards.size === 1 ? [...boards.keys()][0] : undefined,
        participants: [...boards.values()].reduce((n, board) => n + board.length, 0),
        ms: Math.round(performance.now() - started),
        readMs: stages.readMs,
        // Read to decided: answers are served from then on; decided to committed: the rows' write.
        ...(claimed.length > 0 ? { decidedMs: stages.decidedMs, writeMs: stages.writeMs } : {}),
        byThisReplica: claimed.length,
      },
      'session results frozen into PostgreSQL',
    );
    return outcomes;
  }

  /** Which of `sessionIds` have their freeze row (committed, or written by `em`'s own transaction). */
  private async frozenAmong(em: EntityManager, sessionIds: string[]): Promise<string[]> {
    if (sessionIds.length === 0) return [];
    const rows: Array<{ session_id: string }> = await em.execute(
      `select session_id from session_result_freeze where session_id in (${sessionIds.map(() => '?').join(', ')})`,
      sessionIds,
    );
    return rows.map((r) => r.session_id);
  }

  /**
   * Resolves once no replica's freeze holds any of `sessionIds` (see FREEZING_LOCK_CLASS): a shared lock on each in
   * a statement of its own, so a waiter holds each for an instant and never keeps a replica from claiming one.
   */
  private async othersDone(sessionIds: string[]): Promise<void> {
    const conn = this.orm.em.getConnection();
    for (const id of sessionIds) {
      await conn.execute(`select pg_advisory_xact_lock_shared(${FREEZING_LOCK_CLASS}, hashtext(?::text))`, [
        id,
      ]);
    }
  }

  /**
   * One transaction for the batch. It first takes each session's freezing lock, without waiting: the sessions
   * another replica is freezing right now are left to it (`elsewhere`), so a class's end costs ClickHouse one read
   * of its board, not one per replica. Then, for the sessions still not frozen, it reads their boards (`read`),
   * claims the ones ClickHouse has final and decides and writes them. Returns the boards read and the sessions
   * this replica froze (the others had been frozen by another replica meanwhile) with their freeze time.
   * `decided` is called inside it, with the boards' every number set, before their rows are written; the
   * listeners hear `committed` or `withdrawn` after it.
   */
  private async store(
    sessions: WorkoutSession[],
    read: (sessionIds: string[]) => Promise<Map<string, BoardRow[]>>,
    decided: (
      claimed: Array<{ session: WorkoutSession; frozenAt: Date }>,
      boards: Map<string, BoardRow[]>,
    ) => void,
  ): Promise<{
    boards: Map<string, BoardRow[]>;
    claimed: Array<{ session: WorkoutSession; frozenAt: Date }>;
    elsewhere: string[];
  }> {
    let boards = new Map<string, BoardRow[]>();
    let claimed: Array<{ session: WorkoutSession; frozenAt: Date }> = [];
    let elsewhere: string[] = [];
    let told = false;
    try {
      await this.orm.em.fork().transactional(async (tx) => {
        const ids = sessions.map((s) => s.id);
        const locked = await executeBound<{ id: string }>(
          tx,
          `select x.id from json_array_elements_text(?::json) as x(id) where ${takeFreezingLock('x.id')}`,
          [JSON.stringify(ids)],
        );
        const mine = new Set(locked.map((r) => r.id));
        elsewhere = ids.filter((id) => !mine.has(id));
        // Frozen by another replica between this attempt's first look and the lock: nothing to read.
        for (const id of await this.frozenAmong(tx, [...mine])) mine.delete(id);
        if (mine.size === 0) return;
        boards = await read([...mine]);
        const ready = sessions.filter((s) => boards.has(s.id));
        if (ready.length === 0) return;
        const freezes = ready.map((s) => ({
          session_id: s.id,
          participants: boards.get(s.id)!.length,
          session: sessionSnapshot(s),
          ended_at: s.endedAt!.toISOString(),
        }));
        // The claim takes the personal-best lock in the same round trip (personalNumbersOf needs it held).
        const claimedRows = await executeBound<{ session_id: string; frozen_at: Date }>(
          tx,
          `with ${FREEZE_LOCK_SQL}
           insert into session_result_freeze (session_id, participants, session, ended_at)
           select x.session_id, x.participants, x.session, x.ended_at
           from json_to_recordset(?::json) as x(session_id uuid, participants integer, session jsonb,
             ended_at timestamptz) cross join freeze_lock
           on conflict do nothing returning session_id, frozen_at`,
          [JSON.stringify(freezes)],
        );
        const frozenAt = new Map(claimedRows.map((r) => [r.session_id, new Date(r.frozen_at)]));
        claimed = ready
          .filter((s) => frozenAt.has(s.id))
          .map((session) => ({ session, frozenAt: frozenAt.get(session.id)! }));
        if (claimed.length === 0) return;
        const shared = claimed.map(({ session: s }) => ({
          session_id: s.id,
          ended_at: s.endedAt!.toISOString(),
          session_type: s.type,
        }));
        const rows = claimed.flatMap(({ session: s }) => boards.get(s.id)!);
        const personal = await personalNumbersOf(tx, shared, rows);
        const byMember = new Map(personal.map((p) => [`${p.session_id}/${p.user_id}`, p]));
        // What the replica serves is what it writes: the boards' rows get their personal numbers.
        for (const row of rows) Object.assign(row, byMember.get(`${row.session_id}/${row.user_id}`));
        told = true;
        decided(claimed, boards);
        await insertBoards(tx, shared, rows as Array<BoardRow & PersonalRow>);
        // Trainees who joined but never reached the board still have the session in their history.
        await executeBound(
          tx,
          `insert into session_result (session_id, user_id, name, ended_at, session_type)
           select r.session_id, r.trainee_id, u.name, s.ended_at, s.type
           from registration r join app_user u on u.id = r.trainee_id join workout_session s on s.id = r.session_id
           where r.session_id in (select value::uuid from json_array_elements_text(?::json))
             and r.joined_at is not null
           on conflict do nothing`,
          [JSON.stringify(claimed.map(({ session }) => session.id))],
        );
      });
    } catch (err) {
      if (told) {
        this.log.error(
          { err, sessions: claimed.map(({ session }) => session.id) },
          'freezing results failed after they were decided; their answers are withdrawn until a new freeze',
        );
        for (const { session } of claimed)
          for (const listener of this.listeners) listener.withdrawn(session.id);
      }
      throw err;
    }
    for (const { session } of claimed) for (const listener of this.listeners) listener.committed(session.id);
    return { boards, claimed, elsewhere };
  }
}

/**
 * The lock a replica's freeze holds on each of its sessions from before its ClickHouse read to its commit
 * (`pg_try_advisory_xact_lock` on the session id's hash, in a key space of its own: two int4 keys, the first one
 * this constant). A hash shared by two sessions only makes one wait for the other's freeze once.
 */
export const FREEZING_LOCK_CLASS = 16_0017;
/** SQL: takes the freezing lock of the session whose id is the text `id` if it is free (true), else false. */
const takeFreezingLock = (id: string) => `pg_try_advisory_xact_lock(${FREEZING_LOCK_CLASS}, hashtext(${id}))`;

/** Sessions frozen together at most (one ClickHouse IN list, one transaction). */
export const FREEZE_BATCH = 200;
/** Sessions remembered as seen final until their freeze (an id each). */
const SEEN_FINAL_CACHED = 10_000;
