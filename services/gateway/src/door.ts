import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '@pulse/contracts';

/**
 * The request target as a URL, or null when Node's parser accepted something no URL can be made of
 * (`//`, `//:99999/v1/live`, `//[/../v1/live`, …). Such a target once threw outside any handler and took
 * the whole gateway down (issue 11); now it is answered with 400.
 */
export function requestTarget(raw: string | undefined): URL | null {
  try {
    return new URL(raw ?? '/', 'http://gateway');
  } catch {
    return null;
  }
}

/**
 * Open sockets (and upgrades in progress) per client address on this gateway. Pure bookkeeping: the caller
 * takes a slot before the upgrade and gives it back when the socket closes.
 */
export class AddressSlots {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly maxPerAddress: number,
    /** Addresses without a cap (ADDRESS_LIMIT_EXEMPT: loopback by default). */
    private readonly exempt: (address: string) => boolean = () => false,
  ) {}

  /** Takes a slot; false when the address already holds the maximum. */
  take(address: string): boolean {
    if (this.exempt(address)) return true;
    const n = this.open.get(address) ?? 0;
    if (n >= this.maxPerAddress) return false;
    this.open.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    if (this.exempt(address)) return;
    const n = this.open.get(address) ?? 0;
    if (n <= 1) this.open.delete(address);
    else this.open.set(address, n - 1);
  }

  held(address: string): number {
    return this.open.get(address) ?? 0;
  }
}

/**
 * Answers a request on its raw socket (an upgrade, or what Node's parser refused, never reaches a
 * ServerResponse) with the error envelope, then closes it. Node's HTTP server keeps its sockets half-open, so
 * `end()` alone kept the connection, and its file descriptor, for as long as the client kept its side open:
 * any client could hold sockets without limit with requests the door refuses (the 429 of the per-address cap
 * included). The socket is destroyed once the answer is written, as `ws` does with the handshakes it refuses.
 */
export function refuseOnSocket(
  socket: Duplex,
  status: number,
  error: { code: ErrorCode; message: string },
  headers: Record<string, string> = {},
): void {
  const json = JSON.stringify({ error });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(json)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${head.join('\r\n')}\r\n\r\n${json}`);
}
