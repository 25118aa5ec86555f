import { expect } from 'chai';
import {
  CloseCode,
  ErrorCode,
  MAX_CLIENT_FRAME_BYTES,
  MAX_MESSAGE_FRAGMENTS,
  MAX_PENDING_PONGS,
  MAX_SOCKET_PAYLOAD_BYTES,
} from '@pulse/contracts';
import { TestClient, type RunningGateway } from './harness.js';
import { PING_TEXT, pingOf } from './frame-variants.js';
import { Opcode, RawClient, wireFrame } from './raw-client.js';
import type { WellBehaved } from './well-behaved.js';
import { beside } from './well-behaved.js';

const closeFrame = (code: number, reason: Buffer = Buffer.alloc(0)) => {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return wireFrame(Opcode.CLOSE, Buffer.concat([payload, reason]));
};

/** Bytes that are not UTF-8, each put inside a JSON string of an otherwise valid board frame. */
const NOT_UTF8: Array<[string, number[]]> = [
  ['a lone continuation byte', [0x80]],
  ['0xFF', [0xff]],
  ['a truncated sequence', [0xe2, 0x82]],
  ['an overlong "/"', [0xc0, 0xaf]],
  ['a UTF-16 surrogate encoded as UTF-8', [0xed, 0xa0, 0x80]],
  ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
];
const boardWith = (bytes: number[]) =>
  Buffer.concat([Buffer.from('{"type":"board","main":"'), Buffer.from(bytes), Buffer.from('"}')]);

/** `text` in `count` fragments: its first and last byte in the first and last, empty ones between. */
const fragmented = (text: string, count: number) =>
  Buffer.concat([
    wireFrame(Opcode.TEXT, text.slice(0, 1), { fin: false }),
    ...Array.from({ length: count - 2 }, () => wireFrame(Opcode.CONTINUATION, '', { fin: false })),
    wireFrame(Opcode.CONTINUATION, text.slice(1)),
  ]);
/** Framing a client may not send (RFC 6455 §5) and the close code it gets. */
const BROKEN_FRAMING: Array<[string, Buffer, CloseCode]> = [
  ['an unmasked frame', wireFrame(Opcode.TEXT, PING_TEXT, { mask: false }), CloseCode.PROTOCOL_ERROR],
  ['RSV1 without compression', wireFrame(Opcode.TEXT, PING_TEXT, { rsv: 4 }), CloseCode.PROTOCOL_ERROR],
  ['RSV2', wireFrame(Opcode.TEXT, PING_TEXT, { rsv: 2 }), CloseCode.PROTOCOL_ERROR],
  ['RSV3', wireFrame(Opcode.TEXT, PING_TEXT, { rsv: 1 }), CloseCode.PROTOCOL_ERROR],
  ['reserved data opcode 3', wireFrame(3, PING_TEXT), CloseCode.PROTOCOL_ERROR],
  ['reserved control opcode 0xB', wireFrame(0xb, 'x'), CloseCode.PROTOCOL_ERROR],
  [
    'a continuation without a first fragment',
    wireFrame(Opcode.CONTINUATION, PING_TEXT),
    CloseCode.PROTOCOL_ERROR,
  ],
  [
    'a text frame inside a fragmented one',
    Buffer.concat([wireFrame(Opcode.TEXT, '{"type":', { fin: false }), wireFrame(Opcode.TEXT, '"ping"}')]),
    CloseCode.PROTOCOL_ERROR,
  ],
  ['a fragmented ping', wireFrame(Opcode.PING, 'x', { fin: false }), CloseCode.PROTOCOL_ERROR],
  ['a ping of 126 bytes', wireFrame(Opcode.PING, 'x'.repeat(126)), CloseCode.PROTOCOL_ERROR],
  ['close code 999', closeFrame(999), CloseCode.PROTOCOL_ERROR],
  ['close code 1005 (never sent on the wire)', closeFrame(1005), CloseCode.PROTOCOL_ERROR],
  ['close code 5000', closeFrame(5000), CloseCode.PROTOCOL_ERROR],
  ['a close payload of one byte', wireFrame(Opcode.CLOSE, Buffer.from([0x03])), CloseCode.PROTOCOL_ERROR],
  ['a close reason that is not UTF-8', closeFrame(1000, Buffer.from([0xff])), CloseCode.INVALID_PAYLOAD],
  [
    'a payload length of 2^63',
    wireFrame(Opcode.TEXT, '', { declaredLength: 2n ** 63n }),
    CloseCode.MESSAGE_TOO_BIG,
  ],
  [
    `a message in ${MAX_MESSAGE_FRAGMENTS + 1} fragments`,
    fragmented(PING_TEXT, MAX_MESSAGE_FRAGMENTS + 1),
    CloseCode.POLICY_VIOLATION,
  ],
];

describe('Hostile clients: WebSocket framing gets a documented close, fragments are one frame', () => {
  let gw: RunningGateway;
  /** A trainee of the same live session, rating and ranked after every test. */
  let trainee: WellBehaved;
  const cleanups: Array<() => void> = [];
  beside(cleanups, (started) => ({ gw, trainee } = started));

  /** A hostile trainee of the session on a raw socket, with `head` sent right behind its upgrade. */
  function raw(head?: Buffer): RawClient {
    const client = RawClient.upgrade(gw, `ticket=${trainee.ticket()}`, head);
    cleanups.push(() => client.drop());
    return client;
  }

  it(`reassembles fragments around a control frame and up to ${MAX_MESSAGE_FRAGMENTS} of them, and refuses fragments past 1 KiB and 64 KiB like one frame`, async () => {
    const client = raw();
    await client.until((c) => c.textFrames.length > 0);
    const big = pingOf(MAX_CLIENT_FRAME_BYTES + 1);
    const board = Buffer.from('{"type":"board","main":"é"}');
    const split = board.indexOf(0xc3) + 1; // inside the two bytes of "é"
    client.write(
      Buffer.concat([
        wireFrame(Opcode.TEXT, '{"type":', { fin: false }),
        wireFrame(Opcode.PING, 'still there?'),
        wireFrame(Opcode.CONTINUATION, '"pi', { fin: false }),
        wireFrame(Opcode.CONTINUATION, 'ng"}'),
        wireFrame(Opcode.TEXT, big.slice(0, 500), { fin: false }),
        wireFrame(Opcode.CONTINUATION, big.slice(500, 1_000), { fin: false }),
        wireFrame(Opcode.CONTINUATION, big.slice(1_000)),
        wireFrame(Opcode.TEXT, board.subarray(0, split), { fin: false }),
        wireFrame(Opcode.CONTINUATION, board.subarray(split)),
        fragmented(PING_TEXT, MAX_MESSAGE_FRAGMENTS),
      ]),
    );
    await client.until((c) => c.textFrames.length >= 5);
    const [, pong, tooBig, board_, lastPong] = client.textFrames;
    expect([pong.type, tooBig.code, board_.code, lastPong.type]).to.deep.equal([
      'pong',
      ErrorCode.INVALID_MESSAGE,
      ErrorCode.INVALID_MESSAGE,
      'pong',
    ]);
    expect(tooBig.message).to.match(/^frame of 1025 bytes/);
    expect(board_.message).to.match(/^main: .*'é'/);
    const controlPong = client.frames.find((f) => f.opcode === Opcode.PONG);
    expect(controlPong?.payload.toString()).to.equal('still there?');
    client.write(
      Buffer.concat([
        wireFrame(Opcode.TEXT, 'x'.repeat(40_000), { fin: false }),
        wireFrame(Opcode.CONTINUATION, 'x'.repeat(MAX_SOCKET_PAYLOAD_BYTES - 40_000 + 1)),
      ]),
    );
    expect(await client.closeCode()).to.equal(CloseCode.MESSAGE_TOO_BIG);
    await trainee.rateAndRank();
  });

  it('closes with 1007 on a text frame that is not UTF-8, whole, in fragments or before the welcome', async () => {
    const cases = NOT_UTF8.flatMap(([what, bytes]) => {
      const text = boardWith(bytes);
      const cut = text.length - 3;
      return [
        { what, client: raw(), frame: wireFrame(Opcode.TEXT, text) },
        {
          what: `${what}, in fragments`,
          client: raw(),
          frame: Buffer.concat([
            wireFrame(Opcode.TEXT, text.subarray(0, cut), { fin: false }),
            wireFrame(Opcode.CONTINUATION, text.subarray(cut)),
          ]),
        },
        { what: `${what}, before the welcome`, client: raw(wireFrame(Opcode.TEXT, text)), frame: null },
      ];
    });
    for (const { client, frame } of cases) {
      if (frame === null) continue;
      await client.until((c) => c.textFrames.length > 0);
      client.write(frame);
    }
    for (const { what, client } of cases) {
      expect(await client.closeCode(), what).to.equal(CloseCode.INVALID_PAYLOAD);
      expect(
        client.textFrames.filter((f) => f.type !== 'welcome'),
        what,
      ).to.deep.equal([]);
    }
    await trainee.rateAndRank();
  });

  for (const [what, bytes, code] of BROKEN_FRAMING) {
    it(`closes with ${code} on ${what}`, async () => {
      const client = raw();
      await client.until((c) => c.textFrames.length > 0);
      client.write(bytes);
      expect(await client.closeCode()).to.equal(code);
      await trainee.rateAndRank();
    });
  }

  it(`answers WebSocket pings one after another, and cuts a flood of them (over ${MAX_PENDING_PONGS} pongs pending) without a close frame`, async () => {
    const client = TestClient.open(gw, trainee.ticket());
    cleanups.push(() => client.close());
    await client.next('welcome');
    for (let i = 0; i < 1_000; i++) {
      await new Promise<void>((resolve) => {
        client.ws.once('pong', () => resolve());
        client.ws.ping();
      });
    }
    const flood = raw();
    await flood.until((c) => c.textFrames.length > 0);
    flood.write(Buffer.concat(Array.from({ length: 10_000 }, () => wireFrame(Opcode.PING, 'x'))));
    await flood.closed;
    expect(flood.frames.filter((f) => f.opcode === Opcode.PONG).length).to.be.below(10_000);
    expect(flood.frames.some((f) => f.opcode === Opcode.CLOSE)).to.equal(false);
    client.send({ type: 'ping' });
    await client.next('pong');
    await trainee.rateAndRank();
  });
});
