import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { Histogram } from 'prom-client';
import { withLoggableErrors } from './loggable-error.js';
import { loggablePath } from './request-target.js';

const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Request id (taken from a sane `x-request-id` or generated), echoed, on every log line; latency metric.
 * `ctx.log` logs errors through loggableError, so no statement with its values reaches the log.
 */
export function requestLog(parent: Logger, latency: Histogram<'method' | 'route' | 'status'>): Middleware {
  const logger = withLoggableErrors(parent);
  // The request line holds only what is put in it below: short primitives, and the path through the logger's
  // `path` serializer (credential query parameters redacted). Matching the redaction paths against it found
  // nothing and cost two thirds of the line (~7 µs of ~11 a request, the wildcard paths); every other line,
  // ctx.log's included, is still redacted.
  const lines = parent.child({}, { redact: [] });
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    ctx.requestId = INCOMING_ID.test(incoming) ? incoming : randomUUID();
    ctx.set('x-request-id', ctx.requestId);
    ctx.log = logger.child({ requestId: ctx.requestId });
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      latency.observe({ method: ctx.method, route: String(route), status: String(ctx.status) }, seconds);
      lines.info(
        {
          requestId: ctx.requestId,
          method: ctx.method,
          path: loggablePath(ctx),
          route,
          status: ctx.status,
          ms: Math.round(seconds * 1e4) / 10,
        },
        'request',
      );
    }
  };
}
