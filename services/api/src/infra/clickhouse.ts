import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { addColumnStatements, addedColumnsQuery, clickhouseSchema } from '@pulse/contracts';

export type { ClickHouseClient };

/**
 * A client without a default database: every query names `db.table`, so the same client can create
 * the database. No custom settings are sent (ClickHouse 18.16 refuses settings it does not know).
 */
export const openClickHouse = (url: string): ClickHouseClient =>
  createClient({
    url,
    request_timeout: 10_000,
    compression: { request: false, response: false },
    // Failures reach our code as errors and are logged there, as JSON; the client's console logger is off.
    log: { level: ClickHouseLogLevel.OFF },
  });

/**
 * Applies the engine's documented storage schema (idempotent) so the reader's tables exist, with the columns
 * added since (issue 16: the freeze reads them even before an engine of that version started).
 */
export async function applyClickHouseSchema(
  client: ClickHouseClient,
  db: string,
  cluster = '',
): Promise<void> {
  for (const query of clickhouseSchema(db, cluster)) await client.command({ query });
  const rs = await client.query({ query: addedColumnsQuery(db), format: 'JSONEachRow' });
  const existing = await rs.json<{ table: string; name: string }>();
  for (const query of addColumnStatements(db, existing, cluster)) await client.command({ query });
}
