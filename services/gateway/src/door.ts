import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';
import {
  ATTEMPT_QUERY,
  DEVICE_QUERY,
  DeviceAttempt,
  DeviceId,
  ErrorCode,
  LIVE_PATH,
  redactQuery,
} from '@pulse/contracts';
import { addressList, clientAddress, compileTrustProxy } from '@pulse/runtime';
import type { GatewayConfig } from './config.js';
import type { GatewayMetrics } from './metrics.js';

export interface DoorDeps {
  server: Server;
  wss: WebSocketServer;
  config: Pick<GatewayConfig, 'MAX_SOCKETS_PER_ADDRESS' | 'TRUST_PROXY' | 'ADDRESS_LIMIT_EXEMPT'>;
  metrics: GatewayMetrics;
  logger: Logger;
  /** True once the gateway is shutting down: upgrades get 503. */
  draining: () => boolean;
  /** A WebSocket that passed the door, with the query of its upgrade (its ticket is checked there). */
  accept: (ws: WebSocket, query: URLSearchParams, origin: DeviceOrigin | undefined) => void;
}

/**
 * The door at the socket level (issue 11): every upgrade, every CONNECT and every request Node's parser refuses
 * either gets an HTTP answer with the error envelope and a closed socket, or becomes a WebSocket holding one of
 * its address's slots until it closes. Plain requests are the app's routes.
 */
export function installDoor({ server, wss, config, metrics, logger, draining, accept }: DoorDeps): void {
  const trustProxy = compileTrustProxy(config.TRUST_PROXY);
  const slots = new AddressSlots(config.MAX_SOCKETS_PER_ADDRESS, addressList(config.ADDRESS_LIMIT_EXEMPT));

  /** A request the door refuses: counted by reason, answered on its raw socket with the envelope, closed. */
  function refuse(
    socket: Duplex,
    status: number,
    code: ErrorCode,
    message: string,
    metric: string,
    headers?: Record<string, string>,
  ): void {
    metrics.requestsRefused.inc({ reason: metric });
    refuseOnSocket(socket, status, { code, message }, headers);
  }

  // What Node's parser itself refuses (malformed request line, oversized headers) gets a 400 and a close.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      metrics.requestsRefused.inc({ reason: 'bad_request' });
      return void socket.destroy();
    }
    refuse(socket, 400, ErrorCode.VALIDATION_FAILED, 'malformed request', 'bad_request');
  });
  // CONNECT asks for a tunnel, which the gateway never opens; without a listener Node cut such a socket
  // without any answer.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', (err) => logger.debug({ err }, 'connect socket error'));
    refuse(socket, 404, ErrorCode.NOT_FOUND, 'no route CONNECT', 'not_found');
  });
  // ws answers a handshake it cannot take (an Upgrade other than websocket, a missing or malformed
  // Sec-WebSocket-Key, -Version or -Protocol) in plain text; here it gets the envelope like every other
  // refusal, with the version this server speaks (RFC 6455 §4.4).
  wss.on('wsClientError', (err: Error, socket: Duplex) =>
    refuse(socket, 400, ErrorCode.VALIDATION_FAILED, err.message, 'bad_handshake', {
      'Sec-WebSocket-Version': '13',
    }),
  );

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A socket reset before the handshake completes must not become an unhandled 'error' event.
    socket.on('error', (err) => logger.debug({ err }, 'upgrade socket error'));
    try {
      upgrade(req, socket, head);
    } catch (err) {
      metrics.uncaughtErrors.inc();
      logger.error({ err, url: redactQuery(req.url ?? '') }, 'upgrade failed');
      socket.destroy();
    }
  });

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = requestTarget(req.url);
    if (target === null) {
      return refuse(socket, 400, ErrorCode.VALIDATION_FAILED, 'malformed request target', 'bad_target');
    }
    if (draining()) return refuse(socket, 503, ErrorCode.UNAVAILABLE, 'draining', 'draining');
    if (target.pathname !== LIVE_PATH) {
      return refuse(socket, 404, ErrorCode.NOT_FOUND, `no route ${target.pathname}`, 'not_found');
    }
    // What a request of another method than GET gets on any path, upgrade or not (ws answered 405 in plain text).
    if (req.method !== 'GET') {
      return refuse(socket, 404, ErrorCode.NOT_FOUND, `no route ${req.method} ${LIVE_PATH}`, 'not_found');
    }
    const origin = deviceAttemptOf(target.searchParams);
    if (origin === null) {
      const message = `${DEVICE_QUERY} (1-64 of A-Z a-z 0-9 _ -) and ${ATTEMPT_QUERY} (an integer from 1) go together, once each`;
      return refuse(socket, 400, ErrorCode.VALIDATION_FAILED, message, 'bad_request');
    }
    const address = clientAddress(req, trustProxy);
    if (!slots.take(address)) {
      const message = `at most ${config.MAX_SOCKETS_PER_ADDRESS} sockets per client address`;
      return refuse(socket, 429, ErrorCode.RATE_LIMITED, message, 'too_many_sockets');
    }
    socket.once('close', () => slots.release(address));
    // The URL carries the join ticket: only its redacted form is ever logged.
    logger.debug(
      { url: redactQuery(req.url ?? '/'), address, port: req.socket.remotePort },
      'websocket upgrade',
    );
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, target.searchParams, origin));
  }
}

/** The device and attempt an upgrade named (DEVICE_QUERY, ATTEMPT_QUERY): they order its takeovers. */
export interface DeviceOrigin {
  device: string;
  attempt: number;
}

/**
 * The device and attempt an upgrade names: undefined when it names neither, null when they are malformed,
 * repeated or one comes without the other.
 */
function deviceAttemptOf(query: URLSearchParams): DeviceOrigin | undefined | null {
  const devices = query.getAll(DEVICE_QUERY);
  const attempts = query.getAll(ATTEMPT_QUERY);
  if (devices.length === 0 && attempts.length === 0) return undefined;
  if (devices.length !== 1 || attempts.length !== 1 || !/^[1-9][0-9]{0,9}$/.test(attempts[0])) return null;
  const device = DeviceId.safeParse(devices[0]);
  const attempt = DeviceAttempt.safeParse(Number(attempts[0]));
  return device.success && attempt.success ? { device: device.data, attempt: attempt.data } : null;
}

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

  /**
   * Gives back a slot `take` gave. An exempt address was never counted, so nothing is parsed here: at the end of a
   * class every socket closes at once, and matching each address against the exempt list again was 8 % of a
   * gateway's busy time then (profiled, 5,000 sockets closing).
   */
  release(address: string): void {
    const n = this.open.get(address);
    if (n === undefined) return;
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
