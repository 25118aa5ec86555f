import type { Middleware } from 'koa';
import { ValidationFailed } from '../errors.js';

/**
 * Refuses requests the API cannot route before anything reads them (issue 11):
 * - a target Node's parser accepts but `url.parse` throws on (`http://[/../v1/live`): Koa's `ctx.path`
 *   would throw in every later middleware, and Koa answered a plain-text 500;
 * - an `Upgrade` (WebSocket, h2c): the API never switches protocols — the live socket is the gateway's —
 *   and Node would otherwise keep such a connection open after answering it as a plain request.
 * Both are 400 VALIDATION_FAILED; the connection is closed after the answer.
 */
export function requestTarget(): Middleware {
  return (ctx, next) => {
    try {
      void ctx.path;
      void ctx.querystring;
    } catch (cause) {
      ctx.set('connection', 'close');
      throw new ValidationFailed('the request target is not a valid URL', { cause });
    }
    if (ctx.get('upgrade') !== '') {
      ctx.set('connection', 'close');
      throw new ValidationFailed(
        'the API does not upgrade connections; the live WebSocket is at the gatewayUrl returned by join',
      );
    }
    return next();
  };
}

/** `ctx.path` for logs, or the raw target (cut short) when it cannot be parsed. */
export function loggablePath(ctx: { path: string; url: string }): string {
  try {
    return ctx.path;
  } catch {
    return ctx.url.slice(0, 200);
  }
}
