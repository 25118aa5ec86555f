import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

/**
 * Client addresses no per-address limit applies to. By default the loopback range: a load test or a
 * device simulator on the machine itself opens thousands of sockets and accounts from 127.0.0.1, and only a
 * local process can have that address. Behind a proxy set the trusted-proxy setting so real client
 * addresses are seen; production sets this list empty.
 */
export const DEFAULT_ADDRESS_LIMIT_EXEMPT = 'loopback';

/**
 * A matcher for a comma list of addresses, CIDRs and proxy-addr range names (`loopback`, `linklocal`,
 * `uniquelocal`); '' matches nothing. Throws on an entry that is none of these.
 */
export function addressList(setting: string): (address: string) => boolean {
  const entries = setting
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0) return () => false;
  const match = proxyAddr.compile(entries);
  return (address) => match(address, 0);
}

/** Whether `setting` is a list `addressList` accepts (for config validation). */
export function isAddressList(setting: string): boolean {
  try {
    addressList(setting);
    return true;
  } catch {
    return false;
  }
}

/** Decides whether the hop at `hop` (0 = the socket's peer) may tell us who is behind it. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * Compiles the TRUST_PROXY setting: empty, `false` or `0` trusts nothing (clients connect directly); a
 * positive integer N trusts the N nearest proxies (hops); otherwise a comma list of addresses, CIDRs or
 * proxy-addr's named ranges. Same semantics as Express's `trust proxy`; api and gateways read it alike.
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

/** Whether `setting` is a TRUST_PROXY value `compileTrustProxy` accepts (for config validation). */
export function isTrustProxy(setting: string): boolean {
  try {
    compileTrustProxy(setting);
    return true;
  } catch {
    return false;
  }
}

/**
 * The client's address: the socket's peer, or — only through trusted proxies — the nearest untrusted address
 * of X-Forwarded-For (parsed by proxy-addr, never by hand).
 */
export function clientAddress(req: IncomingMessage, trust: TrustProxy): string {
  try {
    return proxyAddr(req, trust);
  } catch {
    return req.socket.remoteAddress ?? 'unknown';
  }
}
