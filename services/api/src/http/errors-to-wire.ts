import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { ConnectionException } from '@mikro-orm/core';
import { ErrorCode, HttpStatus } from '@pulse/contracts';
import type { ErrorEnvelope } from '@pulse/contracts';
import { NotFound, PayloadTooLarge, PulseError, Unavailable, ValidationFailed } from '../errors.js';
import { sqlState, withLoggableErrors } from './loggable-error.js';

/**
 * SQLSTATEs meaning "the database cannot serve us right now" (PostgreSQL appendix A): connection
 * exceptions (08), insufficient resources (53), shutdown (57P01-3) and query_canceled (57014), which is
 * how DATABASE_STATEMENT_TIMEOUT_MS ends a statement.
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3]|57014$)/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

/**
 * zod is loaded twice (koa-swagger-decorator requires its CommonJS build, we import its ES module), so
 * `instanceof ZodError` is not reliable: recognise it by shape.
 */
function isZodError(err: unknown): err is { issues: { path: (string | number)[]; message: string }[] } {
  return (
    (err as { name?: string })?.name === 'ZodError' && Array.isArray((err as { issues?: unknown }).issues)
  );
}

/** Translates what infrastructure and the HTTP layer throw into PulseErrors; null when it is a bug. */
export function toPulseError(err: unknown): PulseError | null {
  if (err instanceof PulseError) return err;
  if (isZodError(err)) {
    const issues = err.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message }));
    return new ValidationFailed(
      issues[0] ? `${issues[0].path || 'request'}: ${issues[0].message}` : 'invalid',
      {
        details: { issues },
      },
    );
  }
  if (err instanceof ConnectionException) return new Unavailable('postgresql', err);
  if (UNAVAILABLE_SQLSTATE.test(sqlState(err) ?? '')) return new Unavailable('postgresql', err);
  const e = err as { name?: string; code?: string; status?: number; type?: string; expose?: boolean };
  if (e?.name === 'KnexTimeoutError') return new Unavailable('postgresql', err);
  if (typeof e?.code === 'string' && NETWORK_CODES.has(e.code)) return new Unavailable('a dependency', err);
  // Errors of the body parser (http-errors): bad JSON, too large, bad charset.
  if (e?.status === 413) return new PayloadTooLarge(Number((err as { limit?: number }).limit ?? 0));
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    // co-body throws a bare SyntaxError (status 400) for malformed JSON; raw-body a 415 for a bad charset.
    const message =
      e.name === 'SyntaxError' ? 'request body is not valid JSON' : 'request body could not be read';
    return new ValidationFailed(
      e.expose && e.name !== 'SyntaxError' ? String((err as Error).message) : message,
    );
  }
  return null;
}

/** The one place that turns errors into the wire envelope. Unknown errors become INTERNAL, logged, unleaked. */
export function errorsToWire(parent: Logger): Middleware {
  const logger = withLoggableErrors(parent);
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined)
        throw new NotFound('route', `${ctx.method} ${ctx.path}`);
    } catch (err) {
      const known = toPulseError(err);
      const log = ctx.log ?? logger;
      const envelope: ErrorEnvelope = known
        ? {
            error: {
              code: known.code,
              message: known.message,
              ...(known.details === undefined ? {} : { details: known.details }),
            },
          }
        : { error: { code: ErrorCode.INTERNAL, message: 'internal error' } };
      if (!known) log.error({ err, requestId: ctx.requestId }, 'unhandled error');
      else if (known.code === ErrorCode.UNAVAILABLE)
        log.warn({ err, requestId: ctx.requestId }, known.message);
      ctx.status = HttpStatus[envelope.error.code];
      ctx.body = envelope;
      if (known?.code === ErrorCode.UNAVAILABLE) ctx.set('retry-after', '1');
      const retry = (known?.details as { retryAfterSec?: number } | undefined)?.retryAfterSec;
      if (retry !== undefined) ctx.set('retry-after', String(retry));
    }
  };
}
