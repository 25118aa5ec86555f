import { expect } from 'chai';
import type { ServerFrame } from '../src/index.js';
import {
  ErrorCode,
  MAX_CLIENT_FRAME_BYTES,
  parseClientFrame,
  parseServerFrame,
  type ClientFrame,
} from '../src/index.js';

const sessionId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const userId = '16fd2706-8baf-433b-82eb-8c7fada847da';
const at = '2026-11-25T10:00:00.000Z';

describe('client frames', () => {
  const valid: ClientFrame[] = [
    { type: 'rating', seq: 1, energy: 0 },
    { type: 'rating', seq: 42, energy: 100 },
    { type: 'rating', seq: 7, energy: 55.5 },
    { type: 'ping' },
    { type: 'board', main: 'all' },
    { type: 'board', main: 'band' },
    { type: 'board', main: 'following' },
  ];
  for (const frame of valid) {
    it(`round-trips ${JSON.stringify(frame)}`, () => {
      const result = parseClientFrame(JSON.stringify(frame));
      expect(result).to.deep.equal({ ok: true, frame });
      expect(parseClientFrame(Buffer.from(JSON.stringify(frame)))).to.deep.equal({ ok: true, frame });
    });
  }

  const invalid: Array<[string, string]> = [
    ['malformed JSON', '{"type":"rating",'],
    ['a JSON array', '[1,2]'],
    ['a bare number', '17'],
    ['null', 'null'],
    ['an unknown type', '{"type":"dance"}'],
    ['no type', '{"seq":1,"energy":3}'],
    ['energy above 100', '{"type":"rating","seq":1,"energy":101}'],
    ['energy below 0', '{"type":"rating","seq":1,"energy":-1}'],
    ['energy as a string', '{"type":"rating","seq":1,"energy":"50"}'],
    ['a fractional seq', '{"type":"rating","seq":1.5,"energy":50}'],
    ['seq 0', '{"type":"rating","seq":0,"energy":50}'],
    ['a seq beyond 2^31-1', '{"type":"rating","seq":2147483648,"energy":50}'],
    ['a missing energy', '{"type":"rating","seq":1}'],
    ['an unknown field', '{"type":"ping","extra":true}'],
    ['an unknown main board (issue 16)', '{"type":"board","main":"friends"}'],
    ['a board frame without main', '{"type":"board"}'],
    ['a board frame with an extra field', '{"type":"board","main":"all","sticky":true}'],
    ['an oversized frame', JSON.stringify({ type: 'ping', pad: 'x'.repeat(MAX_CLIENT_FRAME_BYTES) })],
  ];
  for (const [what, raw] of invalid) {
    it(`rejects ${what} with INVALID_MESSAGE`, () => {
      const result = parseClientFrame(raw);
      expect(result.ok).to.equal(false);
      if (!result.ok) {
        expect(result.error.code).to.equal(ErrorCode.INVALID_MESSAGE);
        expect(result.error.message).to.be.a('string').and.not.empty;
      }
    });
  }

  it('quotes a refused value without its lone surrogates, and keeps a surrogate pair', () => {
    const messageOf = (main: string) => {
      const parsed = parseClientFrame(JSON.stringify({ type: 'board', main }));
      return parsed.ok ? '' : parsed.error.message;
    };
    expect(messageOf('a\ud800b')).to.match(/received 'a\ufffdb'$/);
    expect(messageOf('\udfff\ud800')).to.match(/received '\ufffd\ufffd'$/);
    expect(messageOf('\ud83d\ude00')).to.match(/received '\ud83d\ude00'$/);
  });

  it('names the byte limit when a frame is too large', () => {
    const result = parseClientFrame('x'.repeat(MAX_CLIENT_FRAME_BYTES + 1));
    expect(result).to.deep.include({ ok: false });
    if (!result.ok) expect(result.error.message).to.contain(String(MAX_CLIENT_FRAME_BYTES));
  });
});

describe('server frames', () => {
  const frames: ServerFrame[] = [
    { type: 'welcome', state: 'waiting', sessionId, startsAt: at, participants: 3, lastSeq: 0 },
    { type: 'welcome', state: 'live', sessionId, startsAt: at, participants: 1, lastSeq: 17 },
    { type: 'waiting', startsAt: at, participants: 12 },
    { type: 'started', startedAt: at },
    {
      type: 'rank',
      rank: 2,
      participants: 5,
      score: 120.5,
      top: [
        { rank: 1, userId, name: 'Ana', score: 130 },
        { rank: 2, userId: sessionId, name: 'Bo', score: 120.5 },
      ],
      at,
      seq: 4,
    },
    { type: 'rescheduled', startsAt: at },
    { type: 'cancelled' },
    { type: 'ended', resultsPath: `/v1/sessions/${sessionId}/results` },
    { type: 'error', code: ErrorCode.RATE_LIMITED, message: 'slow down', seq: 9 },
    { type: 'pong' },
  ];
  for (const frame of frames) {
    it(`round-trips a ${frame.type} frame`, () => {
      expect(parseServerFrame(JSON.stringify(frame))).to.deep.equal({ ok: true, frame });
    });
  }

  it('rejects a rank frame with more than ten top entries', () => {
    const top = Array.from({ length: 11 }, (_, i) => ({ rank: i + 1, userId, name: 'x', score: 1 }));
    const raw = JSON.stringify({ type: 'rank', rank: 1, participants: 11, score: 1, top, at });
    expect(parseServerFrame(raw).ok).to.equal(false);
  });

  it('keeps the resendFrom extension of an error frame', () => {
    const frame = {
      type: 'error',
      code: ErrorCode.UNAVAILABLE,
      message: 'not stored',
      seq: 7,
      resendFrom: 5,
    };
    expect(parseServerFrame(JSON.stringify(frame))).to.deep.equal({ ok: true, frame });
  });

  it('rejects an error frame with an unknown code', () => {
    expect(parseServerFrame('{"type":"error","code":"OOPS","message":"x"}').ok).to.equal(false);
  });
});
