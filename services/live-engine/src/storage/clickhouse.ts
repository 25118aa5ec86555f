import type { ClickHouseClient } from '@clickhouse/client';
import {
  ClickHouseTable,
  addColumnStatements,
  addedColumnsQuery,
  clickhouseSchema,
  type MinuteRow,
  type RatingRow,
  type SessionResultRow,
  type StandingRow,
} from '@pulse/contracts';
import { ClickHouseUnavailable } from '../errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The engine's only door to ClickHouse: DDL, batched inserts and the one read it needs. */
export class ClickHouseStore {
  constructor(
    private readonly client: ClickHouseClient,
    readonly db: string,
    /** CLICKHOUSE_CLUSTER: replicated tables ON CLUSTER (production); '' for one server. */
    private readonly cluster = '',
  ) {}

  async applySchema(): Promise<void> {
    for (const statement of clickhouseSchema(this.db, this.cluster))
      await this.run('schema', () => this.client.command({ query: statement }));
    const existing = await this.run('schema', async () => {
      const rs = await this.client.query({ query: addedColumnsQuery(this.db), format: 'JSONEachRow' });
      return rs.json<{ table: string; name: string }>();
    });
    for (const statement of addColumnStatements(this.db, existing, this.cluster))
      await this.run('schema', () => this.client.command({ query: statement }));
  }

  insertRatings(rows: RatingRow[]): Promise<void> {
    return this.insert(ClickHouseTable.RATINGS, rows);
  }

  /** Results of one or more sessions; the session rows last, so a reader that sees one sees the rest. */
  async insertResults(
    standings: StandingRow[],
    minutes: MinuteRow[],
    sessions: SessionResultRow[],
  ): Promise<void> {
    await Promise.all([
      standings.length > 0 ? this.insert(ClickHouseTable.STANDINGS, standings) : undefined,
      minutes.length > 0 ? this.insert(ClickHouseTable.MINUTES, minutes) : undefined,
    ]);
    // Last: a reader that sees a session row sees its standings and minutes.
    if (sessions.length > 0) await this.insert(ClickHouseTable.SESSION_RESULTS, sessions);
  }

  /** Whether the session's results were already frozen (`final = 1`). */
  async isFinal(sessionId: string): Promise<boolean> {
    return (await this.finalAmong([sessionId])).size === 1;
  }

  /** Which of `sessionIds` (as given) have their results frozen (`final = 1`), in one query. */
  async finalAmong(sessionIds: readonly string[]): Promise<Set<string>> {
    if (sessionIds.length === 0) return new Set();
    for (const id of sessionIds) if (!UUID.test(id)) throw new Error(`not a session id: ${id}`);
    // ClickHouse 18.16 has no query parameters; every id is checked against the UUID pattern above.
    const query = `SELECT session_id FROM ${this.db}.${ClickHouseTable.SESSION_RESULTS} FINAL
      WHERE session_id IN (${sessionIds.map((id) => `'${id}'`).join(', ')})
      GROUP BY session_id HAVING max(final) = 1`;
    const rows = await this.run('read', async () => {
      const rs = await this.client.query({ query, format: 'JSONEachRow' });
      return rs.json<{ session_id: string }>();
    });
    // A UUID column answers in lower case, whatever case it was asked in.
    const final = new Set(rows.map((r) => r.session_id.toLowerCase()));
    return new Set(sessionIds.filter((id) => final.has(id.toLowerCase())));
  }

  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }

  private async insert(table: string, values: object[]): Promise<void> {
    if (values.length === 0) return;
    await this.run(`insert into ${table}`, () =>
      this.client.insert({ table: `${this.db}.${table}`, values, format: 'JSONEachRow' }),
    );
  }

  private async run<T>(operation: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw new ClickHouseUnavailable(operation, err);
    }
  }
}
