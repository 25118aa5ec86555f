import type { EntityManager, Knex, MikroORM } from '@mikro-orm/postgresql';

/** A statement the hot read paths run by name: parsed and planned once per pooled connection. */
export interface PreparedStatement {
  /** Unique per text: node-postgres refuses one name with two texts on a connection. */
  name: string;
  /** PostgreSQL placeholders ($1, $2, …), not MikroORM's `?`. */
  text: string;
}

interface PgClient {
  query<R>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}
interface KnexClient {
  acquireConnection(): Promise<PgClient>;
  releaseConnection(connection: PgClient): Promise<unknown>;
}

/**
 * Runs `statement` as a named prepared statement on a connection of MikroORM's pool, values bound by
 * PostgreSQL. MikroORM's `execute` inlines every value into the SQL text in JavaScript and PostgreSQL
 * plans each text anew: planning was 0.3-0.7 ms of PostgreSQL CPU per history or list query against
 * 0.1-0.2 ms to run it (EXPLAIN ANALYZE, issue 13), on the same two cores as the API. A prepared statement
 * is parsed once per connection and its plan reused (PostgreSQL's plan cache, `plan_cache_mode` auto).
 * Errors are pg's DatabaseError, which errorsToWire maps by SQLSTATE as it does MikroORM's.
 */
export async function queryPrepared<R>(
  orm: MikroORM,
  statement: PreparedStatement,
  values: unknown[],
): Promise<R[]> {
  const client = orm.em.getConnection().getKnex().client as unknown as KnexClient;
  const connection = await client.acquireConnection();
  try {
    return (await connection.query<R>({ ...statement, values })).rows;
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Runs `sql` (MikroORM's `?` placeholders) in `em`'s transaction with its values bound by PostgreSQL
 * instead of inlined into the text: MikroORM's `execute` escapes a string parameter character by character
 * in JavaScript, which for the results freeze's JSON of 4,000 rows (1.2 MB) held the event loop for
 * 100-190 ms per batch (issue 13), stalling every request meanwhile.
 */
export async function executeBound<R>(em: EntityManager, sql: string, values: unknown[]): Promise<R[]> {
  const knex = em.getTransactionContext<Knex.Transaction>() ?? em.getConnection().getKnex();
  const result = (await knex.raw(sql, values as Knex.RawBinding[])) as { rows: R[] };
  return result.rows;
}
