import { Unavailable } from '../errors.js';
import type { ClickHouseClient } from '../infra/clickhouse.js';

/** One ClickHouse query as JSON rows; any failure is the dependency being unavailable (503). */
export async function clickhouseRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  try {
    const result = await client.query({ query, format: 'JSONEachRow' });
    return await result.json<T>();
  } catch (cause) {
    throw new Unavailable('clickhouse', cause);
  }
}
