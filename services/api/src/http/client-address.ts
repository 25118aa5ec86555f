import proxyAddr from 'proxy-addr';
import type { Middleware } from 'koa';

/** Decides whether the hop at `hop` (0 = the socket's peer) may tell us who is behind it. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * Compiles the TRUST_PROXY setting (validated by the config schema): nothing, a number of hops, or a
 * comma list of addresses / CIDRs / proxy-addr range names. Same semantics as Express's `trust proxy`.
 */
export function compileTrustProxy(setting: string): TrustProxy {
  const value = setting.trim();
  if (value === '' || value === 'false' || value === '0') return () => false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return proxyAddr.compile(value.split(',').map((s) => s.trim()));
}

/**
 * Sets `ctx.ip` to the client's address: the socket's peer, or — only through trusted proxies — the
 * nearest untrusted address of X-Forwarded-For (parsed by proxy-addr, never by hand). Koa's own
 * `proxy` stays off, so nothing else reads the header.
 */
export function clientAddress(trust: TrustProxy): Middleware {
  return async (ctx, next) => {
    ctx.request.ip = proxyAddr(ctx.req, trust);
    await next();
  };
}
