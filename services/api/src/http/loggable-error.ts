import { DriverException } from '@mikro-orm/core';
import type { Logger } from 'pino';

/** Fields of a PostgreSQL error that name things (SQLSTATE, constraint, table) but never hold values. */
const SAFE_DB_FIELDS = ['code', 'severity', 'routine', 'schema', 'table', 'column', 'constraint'] as const;
const MAX_CAUSE_DEPTH = 5;

/**
 * An error of PostgreSQL as MikroORM (DriverException) or pg itself (DatabaseError, named `error`, from
 * raw `execute`) raise it: its message and stack start with the SQL and its values.
 */
export function isDatabaseError(err: unknown): err is Error & Record<string, unknown> {
  if (err instanceof DriverException) return true;
  return err instanceof Error && 'severity' in err && 'routine' in err && 'code' in err;
}

/** The SQLSTATE of a PostgreSQL error, whichever layer raised it; undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  if (!isDatabaseError(err)) return undefined;
  const code = err.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

const frames = (stack: string | undefined) =>
  (stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .join('\n');

/**
 * What of an error may reach the logs. knex and MikroORM put the statement *with its bound values*
 * (emails, hashes, comments) into a database error's message and stack, and PostgreSQL's `detail` and
 * `where` quote values too: for those only the names and the stack frames are kept. Causes are walked.
 */
export function loggableError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return err;
  const out: Record<string, unknown> = { type: err.name };
  if (isDatabaseError(err)) {
    out.message = `database error ${String(err.code ?? 'unknown')} (statement and values withheld)`;
    for (const field of SAFE_DB_FIELDS) if (err[field] !== undefined) out[field] = err[field];
    out.stack = frames(err.stack);
  } else {
    out.message = err.message;
    out.stack = err.stack;
    const code = (err as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
  }
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = loggableError(err.cause, depth + 1);
  return out;
}

/** A child logger whose `err` fields go through loggableError. */
export const withLoggableErrors = (logger: Logger): Logger =>
  logger.child({}, { serializers: { err: (err: unknown) => loggableError(err) } });
