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
