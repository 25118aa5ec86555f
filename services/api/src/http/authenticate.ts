import type { Context, Middleware } from 'koa';
import type { AccessTokens, AccessClaims } from '../accounts/tokens.js';
import type { Role } from '../accounts/user.entity.js';
import { Forbidden, Unauthenticated } from '../errors.js';

/** Routes under /v1 that need no access token; everything else under /v1 does. */
const ANONYMOUS = new Set(['/v1/auth/register', '/v1/auth/login', '/v1/auth/refresh']);

/** Checks the bearer token before anything else (so anonymous callers learn nothing about inputs). */
export function authenticate(tokens: AccessTokens): Middleware {
  return (ctx, next) => {
    if (!ctx.path.startsWith('/v1/') || ANONYMOUS.has(ctx.path)) return next();
    const header = ctx.get('authorization');
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (match === null) throw new Unauthenticated('missing bearer token');
    ctx.state.auth = tokens.verify(match[1]);
    return next();
  };
}

export function caller(ctx: Context): AccessClaims {
  const auth = ctx.state.auth;
  if (auth === undefined) throw new Unauthenticated('missing bearer token');
  return auth;
}

/** The caller's id when they have `role`, else 403. */
export function callerWithRole(ctx: Context, role: Role): string {
  const auth = caller(ctx);
  if (auth.role !== role) throw new Forbidden(`only a ${role} may do this`);
  return auth.userId;
}
