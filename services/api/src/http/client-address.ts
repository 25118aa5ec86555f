import type { Middleware } from 'koa';
import { clientAddress as addressOf, type TrustProxy } from '@pulse/runtime';

/**
 * Sets `ctx.ip` to the client's address: the socket's peer, or — only through trusted proxies (TRUST_PROXY)
 * — the nearest untrusted address of X-Forwarded-For. Koa's own `proxy` stays off, so nothing else reads
 * the header.
 */
export function clientAddress(trust: TrustProxy): Middleware {
  return (ctx, next) => {
    ctx.request.ip = addressOf(ctx.req, trust);
    return next();
  };
}
