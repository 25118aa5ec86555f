import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { LIVE_PATH } from '@pulse/contracts';
import type { RunningGateway } from './harness.js';

/** RFC 6455 §5.2 opcodes. */
export const Opcode = { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

export interface WireOptions {
  /** FIN bit: false for every fragment but the last. */
  fin?: boolean;
  /** Clients must mask (RFC 6455 §5.1); false sends what a server would. */
  mask?: boolean;
  /** The three reserved bits as a number 0..7 (RSV1 = 4): no extension is negotiated, so any is an error. */
  rsv?: number;
  /** A payload length field that lies (e.g. 2^63), the payload itself is then sent as given. */
  declaredLength?: bigint;
}

/** One WebSocket frame as a client would put it on the wire, however wrong the options make it. */
export function wireFrame(opcode: number, payload: Buffer | string, options: WireOptions = {}): Buffer {
  const { fin = true, mask = true, rsv = 0 } = options;
  const body = Buffer.from(payload);
  const length = options.declaredLength ?? BigInt(body.length);
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (length < 126n) head.push(maskBit | Number(length));
  else if (length < 65_536n) {
    head.push(maskBit | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(Number(length));
  } else {
    head.push(maskBit | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(length);
  }
  const key = mask ? randomBytes(4) : Buffer.alloc(0);
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4];
  return Buffer.concat([Buffer.from(head), extended, key, body]);
}

export const UPGRADE_HEADERS =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

export interface ServerWireFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A client on a raw TCP socket: writes an upgrade (and whatever bytes follow it in the same packet), then
 * reads the server's HTTP answer and its frames. For what the `ws` client refuses to send.
 */
export class RawClient {
  readonly closed: Promise<void>;
  private data = Buffer.alloc(0);

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.data = Buffer.concat([this.data, chunk])));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  /** Connects and writes `request` as it is (`head` in the same write). */
  static send(gw: RunningGateway, request: string | Buffer): RawClient {
    const { port } = new URL(gw.httpUrl);
    const socket = connect(Number(port), '127.0.0.1');
    const client = new RawClient(socket);
    socket.write(request);
    return client;
  }

  /** An upgrade of `/v1/live?<query>` with the given bytes right behind it (ws reads them as `head`). */
  static upgrade(gw: RunningGateway, query: string, head: Buffer = Buffer.alloc(0)): RawClient {
    const request = `GET ${LIVE_PATH}?${query} HTTP/1.1\r\nHost: gateway\r\n${UPGRADE_HEADERS}\r\n`;
    return RawClient.send(gw, Buffer.concat([Buffer.from(request, 'latin1'), head]));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Half-closes the TCP connection after what was written (a FIN): what a device that gave up sends. */
  end(): void {
    this.socket.end();
  }

  /** Ends the TCP connection without a close handshake (`reset`: with an RST). */
  drop(reset = false): void {
    if (reset) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  /** The HTTP status line and head of the answer (empty until it arrived). */
  get httpHead(): string {
    const end = this.data.indexOf('\r\n\r\n');
    return end < 0 ? '' : this.data.subarray(0, end).toString('latin1');
  }

  /** The HTTP body after the head (for refusals answered without a switch of protocols). */
  get httpBody(): string {
    const end = this.data.indexOf('\r\n\r\n');
    return end < 0 ? '' : this.data.subarray(end + 4).toString('utf8');
  }

  /** The complete WebSocket frames the server sent after its 101 (unmasked, as servers send). */
  get frames(): ServerWireFrame[] {
    const frames: ServerWireFrame[] = [];
    let at = this.data.indexOf('\r\n\r\n');
    if (at < 0 || !this.httpHead.startsWith('HTTP/1.1 101 ')) return frames;
    at += 4;
    while (at + 2 <= this.data.length) {
      let length = this.data[at + 1] & 0x7f;
      let start = at + 2;
      if (length === 126) [length, start] = [this.data.readUInt16BE(start), start + 2];
      else if (length === 127) [length, start] = [Number(this.data.readBigUInt64BE(start)), start + 8];
      if (start + length > this.data.length) break;
      frames.push({ opcode: this.data[at] & 0x0f, payload: this.data.subarray(start, start + length) });
      at = start + length;
    }
    return frames;
  }

  /** The JSON text frames the server sent. */
  get textFrames(): Array<{ type: string; [key: string]: unknown }> {
    return this.frames
      .filter((f) => f.opcode === Opcode.TEXT)
      .map((f) => JSON.parse(f.payload.toString('utf8')) as { type: string });
  }

  /** The code of the server's close frame, once it came (undefined if the socket closed without one). */
  async closeCode(): Promise<number | undefined> {
    await this.until((r) => r.frames.some((f) => f.opcode === Opcode.CLOSE));
    const close = this.frames.find((f) => f.opcode === Opcode.CLOSE);
    return close !== undefined && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined;
  }

  /** Resolves once what the server sent satisfies `done`, or the socket closed; fails after `timeoutMs`. */
  async until(done: (client: RawClient) => boolean, timeoutMs = 10_000): Promise<void> {
    let closed = false;
    void this.closed.then(() => (closed = true));
    const deadline = Date.now() + timeoutMs;
    while (!done(this) && !closed) {
      if (Date.now() > deadline) {
        throw new Error(
          `not answered in time; got ${this.httpHead.split('\r\n')[0]} and ${this.frames.length} frames`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
