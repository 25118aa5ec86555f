import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  ErrorCode,
  MAX_CLIENT_FRAME_BYTES,
  MAX_SOCKET_PAYLOAD_BYTES,
  parseServerFrame,
} from '@pulse/contracts';
import { type NatsWorld, TestClient, eventually, signTicket, type RunningGateway } from './harness.js';
import { PING_TEXT, clientFrameShapes, hostileVariants, pingOf } from './frame-variants.js';
import { Opcode, RawClient, wireFrame } from './raw-client.js';
import type { WellBehaved } from './well-behaved.js';
import { beside } from './well-behaved.js';

type Frame = TestClient['frames'][number];
/** How JSON.stringify writes a UTF-16 surrogate without its pair. */
const LONE_SURROGATE_ESCAPE = /\\ud[89a-f][0-9a-f]{2}/i;

const rating = (seq: string, energy: string) => `{"type":"rating","seq":${seq},"energy":${energy}}`;
/** Numbers a rating may not carry, and the field the refusal names. */
const REFUSED_NUMBERS: Array<[string, 'seq' | 'energy']> = [
  [rating('1e308', '1'), 'seq'],
  [rating('-1e308', '1'), 'seq'],
  [rating('1e400', '1'), 'seq'], // Infinity once parsed
  [rating('-0', '1'), 'seq'],
  [rating('9007199254740993', '1'), 'seq'], // 2^53 + 1
  [rating('2147483648', '1'), 'seq'], // 2^31
  [rating('1.5', '1'), 'seq'],
  [rating('1e-7', '1'), 'seq'],
  [rating('1', '1e308'), 'energy'],
  [rating('1', '1e400'), 'energy'],
  [rating('1', '-1e-300'), 'energy'],
  [rating('1', '100.0000001'), 'energy'],
];
/** Numbers a rating may carry, written as JSON allows, with the seq and energy stored. */
const TAKEN_NUMBERS: Array<[string, number, number]> = [
  [rating('1', '-0'), 1, 0],
  [rating('2', '5e-324'), 2, 5e-324],
  [rating('3.0', '100'), 3, 100],
  [rating('4e0', '1E1'), 4, 10],
  [rating('2147483647', '99.99'), 2147483647, 99.99],
];

/** JSON texts that are not an object, and texts that are not JSON at all. */
const NOT_OBJECTS = ['null', 'true', '0', '-0', '"ping"', '[]', '[{"type":"ping"}]'];
const NOT_JSON = [
  ...['', ' ', 'NaN', "{'type':'ping'}", '{"type":"ping",}', '{"type":"ping"', '['.repeat(1_000)],
  ...['{"type":"ping"}{"type":"ping"}', '\ufeff{"type":"ping"}'],
  // A raw NUL inside a string, before and after the object (JSON allows it only escaped).
  ...['{"type":"ping\u0000"}', '\u0000{"type":"ping"}', '{"type":"ping"}\u0000'],
];
/** Deep nesting where a number or a string belongs, within 1 KiB: the refusal names the field. */
const NESTED: Array<[string, string]> = [
  [`{"type":"rating","seq":${'['.repeat(480)}${']'.repeat(480)},"energy":1}`, 'seq'],
  [`{"type":"board","main":${'{"a":'.repeat(150)}1${'}'.repeat(150)}}`, 'main'],
];
/** 60 KB of nesting: refused by its size before it is parsed. */
const DEEPEST = '['.repeat(30_000) + ']'.repeat(30_000);

describe('Hostile clients: every client frame gets its answer or an error frame with a contract code', () => {
  let world: NatsWorld;
  let gw: RunningGateway;
  /** A trainee of the same live session, rating and ranked after every test. */
  let trainee: WellBehaved;
  const cleanups: Array<() => void> = [];
  beside(cleanups, (started) => ({ world, gw, trainee } = started));

  /** Another trainee of the session, welcomed, that will misbehave. */
  async function hostile(userId = randomUUID()): Promise<TestClient> {
    const client = TestClient.open(gw, signTicket({ sessionId: trainee.sessionId, userId }));
    cleanups.push(() => client.close());
    await client.next('welcome');
    return client;
  }

  /** A hostile client on a raw socket, with `head` sent right behind its upgrade. */
  function raw(head?: Buffer): RawClient {
    const client = RawClient.upgrade(gw, `ticket=${trainee.ticket()}`, head);
    cleanups.push(() => client.drop());
    return client;
  }

  /**
   * Sends each item (strings as text, buffers as binary), then a ping, and resolves with every frame the
   * gateway answered before that ping's pong (`pongs`: how many pongs that makes). Each must be a frame of
   * the contract.
   */
  async function answersTo(client: TestClient, items: Array<string | Buffer>, pongs = 1): Promise<Frame[]> {
    const from = client.frames.length;
    for (const item of items) client.ws.send(item);
    client.send({ type: 'ping' });
    const answered = () => client.frames.slice(from);
    await eventually(() => (answered().filter((f) => f.type === 'pong').length >= pongs ? true : undefined));
    for (const frame of answered()) {
      expect(parseServerFrame(JSON.stringify(frame)).ok, frame.type).to.equal(true);
      // A lone surrogate echoed back would make the frame undecodable for strict JSON parsers (Swift, Java's).
      expect(JSON.stringify(frame), String(frame.message)).not.to.match(LONE_SURROGATE_ESCAPE);
    }
    return answered().slice(0, -1);
  }

  const shapes = clientFrameShapes();

  it('derives its hostile frames from every client frame type and field of the contract', () => {
    expect(shapes.map((s) => s.type)).to.include.members(['rating', 'ping', 'board']);
    expect(shapes.flatMap((s) => s.fields).length).to.be.at.least(6);
    expect(shapes.flatMap(hostileVariants).length).to.be.at.least(90);
  });

  for (const shape of shapes) {
    it(`answers a ${shape.type} frame with a field of a wrong JSON type, missing, or with a NUL or a lone surrogate with INVALID_MESSAGE naming the field`, async () => {
      const client = await hostile();
      const variants = hostileVariants(shape);
      const answers = await answersTo(
        client,
        variants.map((v) => v.text),
      );
      expect(answers).to.have.length(variants.length);
      variants.forEach((variant, i) => {
        expect(answers[i], variant.what).to.include({ type: 'error', code: ErrorCode.INVALID_MESSAGE });
        if (variant.names !== null)
          expect(answers[i].message, variant.what).to.match(new RegExp(`^${variant.names}: `));
      });
      // The contract's own frame of this type still works on the same socket.
      const valid = await answersTo(client, [JSON.stringify(shape.valid)], shape.type === 'ping' ? 2 : 1);
      expect(valid.filter((f) => f.type === 'error')).to.deep.equal([]);
      await trainee.rateAndRank();
    });
  }

  it('answers the same hostile frames sent before the welcome, in order, once it is sent', async () => {
    const variants = shapes.flatMap(hostileVariants);
    expect(variants.length).to.be.below(256); // what a socket holds before its welcome
    const client = raw(Buffer.concat(variants.map((v) => wireFrame(Opcode.TEXT, v.text))));
    await client.until((c) => c.textFrames.length > variants.length);
    const [welcome, ...errors] = client.textFrames;
    expect(welcome.type).to.equal('welcome');
    expect(errors.map((e) => e.code)).to.deep.equal(variants.map(() => ErrorCode.INVALID_MESSAGE));
    await trainee.rateAndRank();
  });

  it('holds 256 frames before its welcome, refuses the ones beyond and binary ones at once, and answers the rest after it', async () => {
    const early = Array.from({ length: 300 }, (_, i) =>
      wireFrame(i === 10 ? Opcode.BINARY : Opcode.TEXT, PING_TEXT),
    );
    const client = raw(Buffer.concat(early));
    await client.until((c) => c.textFrames.length >= 300);
    const types = client.textFrames.map((f) => (f.type === 'error' ? String(f.message) : f.type));
    const welcomeAt = types.indexOf('welcome');
    expect(types.slice(0, welcomeAt).sort()).to.deep.equal([
      'frames must be JSON text',
      ...Array<string>(299 - 256).fill('too many frames before welcome'),
    ]);
    expect(types.slice(welcomeAt + 1)).to.deep.equal(Array(256).fill('pong'));
    await trainee.rateAndRank();
  });

  it('refuses 1e308, -0 seqs, seqs past 2^31 and 2^53, fractions and Infinity, and stores the numbers JSON may spell otherwise', async () => {
    const userId = randomUUID();
    const client = await hostile(userId);
    const answers = await answersTo(client, [
      ...REFUSED_NUMBERS.map(([t]) => t),
      ...TAKEN_NUMBERS.map(([t]) => t),
    ]);
    expect(answers).to.have.length(REFUSED_NUMBERS.length);
    REFUSED_NUMBERS.forEach(([text, field], i) => {
      expect(answers[i], text).to.include({ type: 'error', code: ErrorCode.INVALID_MESSAGE });
      expect(answers[i].message, text).to.match(new RegExp(`^${field}: `));
    });
    const stored = await eventually(async () => {
      const ratings = await world.storedRatings(trainee.sessionId, userId);
      return ratings.length === TAKEN_NUMBERS.length ? ratings : undefined;
    });
    expect(stored.map((r) => [r.seq, r.energy])).to.deep.equal(
      TAKEN_NUMBERS.map(([, seq, energy]) => [seq, energy]),
    );
    await trainee.rateAndRank();
  });

  it('answers JSON that is not an object, text that is not JSON and deep nesting with INVALID_MESSAGE', async () => {
    const client = await hostile();
    const texts = [...NOT_OBJECTS, ...NOT_JSON, ...NESTED.map(([text]) => text), DEEPEST];
    const answers = await answersTo(client, texts);
    expect(answers.map((f) => f.code)).to.deep.equal(texts.map(() => ErrorCode.INVALID_MESSAGE));
    const messages = answers.map((f) => String(f.message));
    const [objects, json] = [NOT_OBJECTS.length, NOT_JSON.length];
    for (const message of messages.slice(0, objects)) expect(message).to.match(/^Expected object, received /);
    expect(messages.slice(objects, objects + json)).to.deep.equal(
      NOT_JSON.map(() => 'frame is not valid JSON'),
    );
    const nested = messages.slice(objects + json, -1);
    NESTED.forEach(([, field], i) => expect(nested[i]).to.match(new RegExp(`^${field}: `)));
    expect(messages.at(-1)).to.equal(
      `frame of ${DEEPEST.length} bytes exceeds the limit of ${MAX_CLIENT_FRAME_BYTES} bytes`,
    );
    await trainee.rateAndRank();
  });

  it('answers binary frames, even one holding a valid frame, with INVALID_MESSAGE and keeps the socket', async () => {
    const client = await hostile();
    const answers = await answersTo(client, [
      Buffer.from(PING_TEXT),
      Buffer.alloc(0),
      Buffer.from([0, 0xff, 0x80]),
    ]);
    expect(answers.map((f) => [f.code, f.message])).to.deep.equal(
      Array(3).fill([ErrorCode.INVALID_MESSAGE, 'frames must be JSON text']),
    );
    await trainee.rateAndRank();
  });

  it('takes a frame of exactly 1 KiB, refuses one byte more (bytes, not characters) and keeps the socket up to 64 KiB', async () => {
    const client = await hostile();
    const multiByte = `{"type":"ping","p":"${'é'.repeat(600)}"}`; // 622 characters, 1,222 bytes
    expect(multiByte.length).to.be.below(MAX_CLIENT_FRAME_BYTES);
    const answers = await answersTo(
      client,
      [
        pingOf(MAX_CLIENT_FRAME_BYTES),
        pingOf(MAX_CLIENT_FRAME_BYTES + 1),
        multiByte,
        pingOf(MAX_SOCKET_PAYLOAD_BYTES),
      ],
      2,
    );
    expect(answers.map((f) => f.type)).to.deep.equal(['pong', 'error', 'error', 'error']);
    expect(answers.slice(1).map((f) => f.message)).to.deep.equal(
      [MAX_CLIENT_FRAME_BYTES + 1, 1_222, MAX_SOCKET_PAYLOAD_BYTES].map(
        (n) => `frame of ${n} bytes exceeds the limit of ${MAX_CLIENT_FRAME_BYTES} bytes`,
      ),
    );
    await trainee.rateAndRank();
  });

  it('answers a flood of 5,000 ping frames with 5,000 pongs, in order', async () => {
    const client = await hostile();
    for (let i = 0; i < 5_000; i++) client.send({ type: 'ping' });
    await eventually(() => (client.frames.length === 5_001 ? true : undefined), 30_000);
    expect(client.frames.map((f) => f.type)).to.deep.equal(['welcome', ...Array(5_000).fill('pong')]);
    await trainee.rateAndRank();
  });
});
