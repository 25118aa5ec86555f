import type Koa from 'koa';
import serve from 'koa-static';
import { NotFound } from '../errors.js';

/** Where the reference web app is served. */
export const WEB_APP_PATH = '/app';

/**
 * Serves the built reference web app (`web/`, a single page using only @pulse/sdk) at /app/, from the same origin
 * as the API so the app needs no CORS. A missing build answers 404 like any unknown path.
 */
export function webApp(dir: string): Koa.Middleware {
  const files = dir === '' ? undefined : serve(dir, { index: 'index.html', maxage: 0 });
  const serveFile = async (ctx: Koa.Context): Promise<void> => {
    const original = ctx.path;
    ctx.path = original.slice(WEB_APP_PATH.length);
    try {
      if (files) await files(ctx, async () => undefined);
    } finally {
      ctx.path = original;
    }
    if (ctx.body === undefined || ctx.body === null) throw new NotFound('file', original);
  };
  return (ctx, next) => {
    if (ctx.path === WEB_APP_PATH) return ctx.redirect(`${WEB_APP_PATH}/`);
    if (!ctx.path.startsWith(`${WEB_APP_PATH}/`) || (ctx.method !== 'GET' && ctx.method !== 'HEAD'))
      return next();
    return serveFile(ctx);
  };
}
