import type { Logger } from 'pino';
import { ClickHouseTable, type MinuteRow, type StandingRow } from '@pulse/contracts';
import type { ClickHouseClient } from '../infra/clickhouse.js';
import { clickhouseRows, clickhouseTuples } from './clickhouse-rows.js';
import type { PersonalNumbers } from './personal-view.js';
import { sqlUuid } from './sql.js';

/**
 * One minute as stored in `session_result.minutes`: [minute, avgEnergy, maxEnergy, samples, sumCenti]. The
 * fifth, the exact sum of the minute's energies in hundredths (issue 16), is missing in sessions frozen before
 * it was stored.
 */
export type MinuteTuple = [number, number, number, number, number?];

/**
 * The columns of the storage contract's rows that the freeze reads, in its SELECTs' order (JSONCompact arrays;
 * UInt64 arrives as a string, the other numbers as numbers).
 */
type StandingRead = [
  session_id: StandingRow['session_id'],
  user_id: StandingRow['user_id'],
  name: StandingRow['name'],
  rank: number,
  score: number,
  calories: number,
  avg_energy: number,
  samples: number,
  final: number,
  band: StandingRow['band'],
];
/** A participant's minute buckets, put together by ClickHouse in minute order, each already a MinuteTuple. */
type MinutesRead = [
  session_id: MinuteRow['session_id'],
  user_id: MinuteRow['user_id'],
  minutes: MinuteTuple[],
];

/**
 * One participant of a final board, as frozen into `session_result`; its personal-board numbers (PersonalNumbers
 * but `band`) are set by the freeze once computed.
 */
export interface BoardRow extends PersonalNumbers {
  session_id: string;
  user_id: string;
  rank: number;
  name: string;
  score: number;
  calories: number;
  avg_energy: number;
  samples: number;
  minutes: MinuteTuple[];
  /** The age band the participant was on the band boards under, null when on none (issue 16). */
  band: string | null;
}

/**
 * Reads what the engine wrote when it froze sessions (contracts' ClickHouse storage): the session row with
 * `final = 1`, the standings and the minute buckets of that final version, one query per table for many
 * sessions. Only validated UUIDs are interpolated (ClickHouse 18.16 has no query parameters).
 */
export class FinalBoards {
  constructor(
    private readonly clickhouse: ClickHouseClient,
    private readonly db: string,
    private readonly log: Logger,
  ) {}

  /** Each session's row (participants, final, its version: a UInt64, as a string) as ClickHouse has it now. */
  summaries(sessionIds: string[]) {
    // `final` is filtered by the caller, not in WHERE: a condition on a non-key column may be applied
    // before FINAL collapses the versions.
    return clickhouseRows<{ session_id: string; participants: number; final: number; version: string }>(
      this.clickhouse,
      `SELECT session_id, participants, final, version FROM ${this.db}.${ClickHouseTable.SESSION_RESULTS} FINAL
       WHERE session_id IN (${sessionIds.map(sqlUuid).join(', ')})`,
    );
  }

  /**
   * The final boards (each participant with its minutes) of the sessions ClickHouse has complete.
   *
   * `seenFinal`: every one of `sessionIds` was seen final before this call (ClickHouse's final is for good), so
   * its standings and minutes are all stored and the three reads go out together; otherwise the session rows are
   * read first and the rest only for the final ones (a minutes read racing the engine's final write could miss
   * its last buckets). Read together they took a third less at the end of a class of 10,000 on a busy box.
   */
  async read(sessionIds: string[], seenFinal = false): Promise<Map<string, BoardRow[]>> {
    const boards = new Map<string, BoardRow[]>();
    const finalOnly = (rows: Awaited<ReturnType<FinalBoards['summaries']>>) =>
      rows.filter((r) => Number(r.final) === 1);
    const gate = seenFinal ? null : finalOnly(await this.summaries(sessionIds));
    if (gate !== null && gate.length === 0) return boards;
    const ids = gate === null ? sessionIds : gate.map((r) => r.session_id);
    const [summaries, standings, minutes] = await Promise.all([
      gate ?? this.summaries(ids).then(finalOnly),
      this.standings(ids),
      this.minutes(ids),
    ]);
    const minutesOf = new Map<string, MinuteTuple[]>();
    for (const [sessionId, userId, buckets] of minutes) minutesOf.set(`${sessionId}/${userId}`, buckets);
    const bySession = new Map<string, StandingRead[]>();
    for (const s of standings) {
      let list = bySession.get(s[0]);
      if (list === undefined) bySession.set(s[0], (list = []));
      if (list.at(-1)?.[1] !== s[1]) list.push(s); // a row stored twice is one participant
    }
    for (const summary of summaries) {
      const rows = bySession.get(summary.session_id) ?? [];
      const complete =
        rows.length === Number(summary.participants) &&
        rows.every(([, , , rank, , , , , final], i) => final === 1 && rank === i + 1);
      if (!complete) {
        this.log.warn(
          { sessionId: summary.session_id, participants: Number(summary.participants), rows: rows.length },
          'ClickHouse says final but the standings are not a complete final board yet; retrying later',
        );
        continue;
      }
      boards.set(
        summary.session_id,
        rows.map(([sessionId, userId, name, rank, score, calories, avgEnergy, samples, , band]) => ({
          session_id: sessionId,
          user_id: userId,
          rank,
          name,
          score,
          calories,
          avg_energy: avgEnergy,
          samples,
          minutes: minutesOf.get(`${sessionId}/${userId}`) ?? [],
          band: band === '' ? null : band,
        })),
      );
    }
    return boards;
  }

  /**
   * The final write gives every participant's standings the session row's version: the board is exactly those
   * rows, read without FINAL (a live class leaves a version of every row per results flush; collapsing them at
   * read time took the freeze's read of a 10-minute class of 10,000 to 1.52 s, 1.16 s without). The final
   * version is picked inside the query, so rows of a version that is not final are never read; `read` checks
   * the board is whole. A retried insert may have stored a row twice: `read` drops duplicates.
   */
  private standings(sessionIds: string[]) {
    const t = (table: string) => `${this.db}.${table}`;
    return clickhouseTuples<StandingRead>(
      this.clickhouse,
      `SELECT session_id, user_id, name, rank, score, calories, avg_energy, samples, final, band
       FROM ${t(ClickHouseTable.STANDINGS)} WHERE (session_id, version) IN (
         SELECT session_id, version FROM (
           SELECT session_id, version, final FROM ${t(ClickHouseTable.SESSION_RESULTS)} FINAL
           WHERE session_id IN (${sessionIds.map(sqlUuid).join(', ')})
         ) WHERE final = 1
       )
       ORDER BY session_id, rank, user_id`,
    );
  }

  /**
   * One row per participant with its buckets as [minute, avg, max, samples, sumCenti] arrays: a 30-minute class
   * of 10,000 is 300,000 buckets, which as a row each (ids repeated) were most of the freeze's read. sum_centi
   * (UInt64, a string in JSON) as Float64: a minute's sum in hundredths is far below 2^53.
   */
  private minutes(sessionIds: string[]) {
    return clickhouseTuples<MinutesRead>(
      this.clickhouse,
      `SELECT session_id, user_id,
         arraySort(groupArray((minute, avg_energy, max_energy, samples, toFloat64(sum_centi)))) AS minutes
       FROM ${this.db}.${ClickHouseTable.MINUTES} FINAL WHERE session_id IN (${sessionIds.map(sqlUuid).join(', ')})
       GROUP BY session_id, user_id`,
    );
  }
}
