/**
 * The ClickHouse storage shared by the live engine (the only writer) and the API (a reader).
 * Written for ClickHouse 18.16 (Debian) and current releases alike: no query parameters, DateTime64,
 * LowCardinality or TTL. Every table is a ReplacingMergeTree keyed so that a batch stored twice (a retry
 * after a crash) collapses to one row per key; readers use FINAL.
 */
export const CLICKHOUSE_DB_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export const ClickHouseTable = {
  /** Every raw rating, once per (session, user, seq). */
  RATINGS: 'ratings',
  /** A participant's standing; rewritten at every results flush, `final = 1` once the session ended. */
  STANDINGS: 'standings',
  /** Per participant and minute since the start: average and max energy and sample count. */
  MINUTES: 'minutes',
  /** One row per session whose results exist; `final = 1` once frozen after `ended`. */
  SESSION_RESULTS: 'session_results',
} as const;
export type ClickHouseTable = (typeof ClickHouseTable)[keyof typeof ClickHouseTable];

/** Column order used by inserts (JSONEachRow objects carry these names). */
export interface RatingRow {
  session_id: string;
  user_id: string;
  seq: number;
  energy: number;
  /** Server time in unix seconds (DateTime). */
  ts: number;
  ts_ms: number;
  minute: number;
}
export interface StandingRow {
  session_id: string;
  user_id: string;
  name: string;
  rank: number;
  participants: number;
  score: number;
  calories: number;
  avg_energy: number;
  samples: number;
  final: 0 | 1;
  version: number;
  /** The age band the participant was on the band boards under (issue 16), '' when on none. */
  band: string;
}
export interface MinuteRow {
  session_id: string;
  user_id: string;
  minute: number;
  avg_energy: number;
  max_energy: number;
  samples: number;
  version: number;
  /**
   * The exact sum of the minute's counted energies in hundredths (issue 16): `avg_energy` is rounded, so
   * `avg_energy × samples` is not the score made in the minute; a personal best's per-minute curve sums these.
   */
  sum_centi: number;
}
export interface SessionResultRow {
  session_id: string;
  participants: number;
  final: 0 | 1;
  /** Unix seconds. */
  updated_at: number;
  version: number;
}

/**
 * Columns added to tables after they were first created, in order: the DDL creates new tables with them, and
 * `addColumnStatements` adds each one a table lacks (ClickHouse 18.16 has no `ADD COLUMN IF NOT EXISTS`, so
 * the writer first reads `system.columns`). Rows written before a column existed read its default (0, '').
 */
export const CLICKHOUSE_ADDED_COLUMNS: ReadonlyArray<{
  table: ClickHouseTable;
  column: string;
  type: string;
}> = [
  { table: ClickHouseTable.STANDINGS, column: 'band', type: 'String' },
  { table: ClickHouseTable.MINUTES, column: 'sum_centi', type: 'UInt64' },
];

/** The query (JSONEachRow: `{table, name}` rows) that tells which of CLICKHOUSE_ADDED_COLUMNS exist in `db`. */
export function addedColumnsQuery(db: string): string {
  if (!CLICKHOUSE_DB_PATTERN.test(db)) throw new Error(`ClickHouse database name "${db}" is not allowed`);
  const names = CLICKHOUSE_ADDED_COLUMNS.map((c) => `'${c.column}'`).join(', ');
  return `SELECT table, name FROM system.columns WHERE database = '${db}' AND name IN (${names})`;
}

/**
 * The ALTERs (ON CLUSTER with a cluster) that add the CLICKHOUSE_ADDED_COLUMNS missing from `existing` (the rows
 * of addedColumnsQuery), in order. Run after `clickhouseSchema`, by every service that applies it.
 */
export function addColumnStatements(
  db: string,
  existing: ReadonlyArray<{ table: string; name: string }>,
  cluster = '',
): string[] {
  if (!CLICKHOUSE_DB_PATTERN.test(db)) throw new Error(`ClickHouse database name "${db}" is not allowed`);
  const on = cluster === '' ? '' : ` ON CLUSTER ${cluster}`;
  const has = new Set(existing.map((c) => `${c.table}.${c.name}`));
  return CLICKHOUSE_ADDED_COLUMNS.filter((c) => !has.has(`${c.table}.${c.column}`)).map(
    (c) => `ALTER TABLE ${db}.${c.table}${on} ADD COLUMN ${c.column} ${c.type}`,
  );
}

/**
 * The DDL, in order; each statement is idempotent. With `cluster` (production: CLICKHOUSE_CLUSTER) every
 * statement runs ON CLUSTER and every table is the Replicated variant of its engine, keyed in Keeper by the
 * operator's `{shard}` and `{replica}` macros, so each replica holds a full copy of the results.
 */
export function clickhouseSchema(db: string, cluster = ''): string[] {
  if (!CLICKHOUSE_DB_PATTERN.test(db)) throw new Error(`ClickHouse database name "${db}" is not allowed`);
  if (cluster !== '' && !CLICKHOUSE_DB_PATTERN.test(cluster)) {
    throw new Error(`ClickHouse cluster name "${cluster}" is not allowed`);
  }
  const statements = singleServerSchema(db);
  return cluster === '' ? statements : statements.map((sql) => onCluster(sql, db, cluster));
}

/** One statement of the single-server DDL as its replicated, ON CLUSTER form. */
function onCluster(sql: string, db: string, cluster: string): string {
  const database = /^CREATE DATABASE IF NOT EXISTS (\w+)$/.exec(sql);
  if (database) return `${sql} ON CLUSTER ${cluster}`;
  const table = /^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+) \(/.exec(sql);
  if (!table) throw new Error(`no ON CLUSTER form for: ${sql.slice(0, 60)}`);
  const name = table[2];
  return sql
    .replace(`${db}.${name} (`, `${db}.${name} ON CLUSTER ${cluster} (`)
    .replace(/ENGINE = (\w*MergeTree)\(([^)]*)\)/, (_m, engine: string, args: string) => {
      const keeper = [`'/clickhouse/tables/{shard}/${db}/${name}'`, `'{replica}'`];
      return `ENGINE = Replicated${engine}(${[...keeper, ...(args.trim() ? [args] : [])].join(', ')})`;
    });
}

function singleServerSchema(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${ClickHouseTable.RATINGS} (
      session_id UUID, user_id UUID, seq UInt32, energy Float64, ts DateTime, ts_ms UInt64, minute UInt32
    ) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(ts) ORDER BY (session_id, user_id, seq)`,
    `CREATE TABLE IF NOT EXISTS ${db}.${ClickHouseTable.STANDINGS} (
      session_id UUID, user_id UUID, name String, rank UInt32, participants UInt32, score Float64,
      calories Float64, avg_energy Float64, samples UInt32, final UInt8, version UInt64, band String
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (session_id, user_id)`,
    `CREATE TABLE IF NOT EXISTS ${db}.${ClickHouseTable.MINUTES} (
      session_id UUID, user_id UUID, minute UInt32, avg_energy Float64, max_energy Float64, samples UInt32,
      version UInt64, sum_centi UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (session_id, user_id, minute)`,
    `CREATE TABLE IF NOT EXISTS ${db}.${ClickHouseTable.SESSION_RESULTS} (
      session_id UUID, participants UInt32, final UInt8, updated_at DateTime, version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY session_id`,
  ];
}
