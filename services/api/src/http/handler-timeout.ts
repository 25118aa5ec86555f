import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { HandlerTimedOut } from '../errors.js';

/**
 * Answers 503 UNAVAILABLE when the rest of the chain has not finished within `timeoutMs`. JavaScript
 * cannot stop the handler, so it runs on in the background (PostgreSQL's statement_timeout bounds its
 * queries); what it later writes to the finished response is ignored, and its error is logged, not lost.
 */
export function handlerTimeout(timeoutMs: number, logger: Logger): Middleware {
  return async (ctx, next) => {
    let timer: NodeJS.Timeout | undefined;
    const handler = next();
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HandlerTimedOut(timeoutMs)), timeoutMs);
    });
    try {
      await Promise.race([handler, expired]);
    } catch (err) {
      if (err instanceof HandlerTimedOut) {
        handler.catch((late: unknown) =>
          (ctx.log ?? logger).warn({ err: late, requestId: ctx.requestId }, 'failed after its timeout'),
        );
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
}
