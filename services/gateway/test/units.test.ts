import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ErrorCode, RankFrame, type SessionEvent, type SessionSnapshot } from '@pulse/contracts';
import { DEV_JOIN_TICKET_SECRET, InvalidConfig } from '@pulse/runtime';
import { loadConfig } from '../src/config.js';
import { errorFrame, NotLive } from '../src/errors.js';
import { fanOutRanks } from '../src/fanout.js';
import { readRankSnapshot } from '../src/rank-snapshot.js';
import { PresenceBoard } from '../src/presence.js';
import { TokenBucket } from '../src/rate-limit.js';
import { applyEvent, initialView } from '../src/session-state.js';
import { verifyJoinTicket } from '../src/tickets.js';
import { signTicket } from './harness.js';

describe('TokenBucket', () => {
  it('allows a burst, then refuses until tokens refill at the sustained rate', () => {
    const bucket = new TokenBucket(5, 3, 0);
    expect([0, 0, 0, 0].map(() => bucket.take(0))).to.deep.equal([true, true, true, false]);
    expect(bucket.take(100)).to.equal(false); // half a token
    expect(bucket.take(200)).to.equal(true); // one token after 200 ms at 5/s
    expect(bucket.take(200)).to.equal(false);
  });

  it('never holds more than the burst however long it was idle', () => {
    const bucket = new TokenBucket(5, 2, 0);
    const taken = [1, 2, 3].map(() => bucket.take(3_600_000));
    expect(taken).to.deep.equal([true, true, false]);
  });
});

describe('PresenceBoard', () => {
  const self = { gatewayId: 'me', connected: 2 };

  it('sums the beats of other gateways with the live local count', () => {
    const board = new PresenceBoard(300);
    board.record('s', 'a', 3, 0);
    board.record('s', 'b', 4, 100);
    board.record('s', 'me', 99, 100);
    expect(board.count('s', 150, self)).to.equal(9);
  });

  it('stops counting a gateway whose beats stopped', () => {
    const board = new PresenceBoard(300);
    board.record('s', 'a', 3, 0);
    expect(board.count('s', 301, self)).to.equal(2);
    board.prune(301);
    board.record('s', 'b', 1, 301);
    expect(board.count('s', 301, self)).to.equal(3);
  });
});

describe('Session state', () => {
  const snapshot = (status: SessionSnapshot['status'], startsAt = '2030-01-01T10:00:00.000Z') =>
    ({ id: randomUUID(), status, startsAt, startedAt: null }) as SessionSnapshot;
  const event = (status: SessionSnapshot['status'], at: string, startsAt?: string) =>
    ({ type: 'created', at, session: snapshot(status, startsAt) }) as unknown as SessionEvent;

  it('moves forward and never back', () => {
    const live = applyEvent(initialView('2030-01-01T10:00:00.000Z'), event('live', '2030-01-01T10:00:01Z'));
    expect(live?.status).to.equal('live');
    expect(applyEvent(live!, event('scheduled', '2030-01-01T10:00:02Z'))).to.equal(null);
    expect(applyEvent(live!, event('ended', '2030-01-01T10:30:00Z'))?.status).to.equal('ended');
  });

  it('takes a newer reschedule and ignores an older one', () => {
    const first = applyEvent(
      initialView('x'),
      event('scheduled', '2030-01-01T09:00:00Z', '2030-01-02T00:00:00Z'),
    );
    expect(first?.startsAt).to.equal('2030-01-02T00:00:00Z');
    expect(applyEvent(first!, event('scheduled', '2030-01-01T08:00:00Z', '2030-01-03T00:00:00Z'))).to.equal(
      null,
    );
  });
});

describe('fanOutRanks', () => {
  it('builds byte-identical JSON to encoding each frame on its own, only for local users', () => {
    const local = randomUUID();
    const top = [{ rank: 1, userId: randomUUID(), name: 'A "quoted" name', score: 12.5 }];
    const got: string[] = [];
    const offered = fanOutRanks(
      {
        sessionId: randomUUID(),
        tick: 1,
        at: 0,
        participants: 2,
        top,
        chunk: 0,
        chunks: 1,
        userIds: [top[0].userId, local],
        ranks: [1, 2],
        scores: [12.5, 3],
        seqs: [4, 7],
      },
      (userId) => (userId === local ? [{ offerRank: (f: string) => got.push(f) }] : undefined),
    );
    expect(offered).to.equal(1);
    const expected = {
      type: 'rank',
      rank: 2,
      participants: 2,
      score: 3,
      top,
      at: '1970-01-01T00:00:00.000Z',
      seq: 7,
    };
    expect(got).to.deep.equal([JSON.stringify(expected)]);
  });
});

describe('Gateway config', () => {
  it('defaults to the local stack', () => {
    const config = loadConfig({});
    expect(config).to.include({ GATEWAY_PORT: 8080, NATS_NAMESPACE: 'pulse', RATING_BURST: 120 });
  });

  it('names the variable of a bad value', () => {
    expect(() => loadConfig({ PUBLISH_WINDOW: 'many' })).to.throw(InvalidConfig, /PUBLISH_WINDOW/);
  });

  it('reads the stream replicas it applies on start, like the API (production: 3)', () => {
    expect(loadConfig({}).NATS_STREAM_REPLICAS).to.equal(1);
    expect(loadConfig({ NATS_STREAM_REPLICAS: '3' }).NATS_STREAM_REPLICAS).to.equal(3);
    expect(() => loadConfig({ NATS_STREAM_REPLICAS: '0' })).to.throw(InvalidConfig, /NATS_STREAM_REPLICAS/);
  });

  it('refuses the development ticket secret in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).to.throw(InvalidConfig, /JOIN_TICKET_SECRET/);
    const secret = 'a-real-production-secret-0123456789-abcdef';
    const nats = { NATS_USER: 'gateway', NATS_PASSWORD: 'a-nats-password' };
    expect(() => loadConfig({ NODE_ENV: 'production', JOIN_TICKET_SECRET: secret })).to.throw(
      InvalidConfig,
      /NATS_USER: required in production/,
    );
    expect(
      loadConfig({ NODE_ENV: 'production', JOIN_TICKET_SECRET: secret, ...nats }).JOIN_TICKET_SECRET,
    ).to.equal(secret);
  });
});

describe('verifyJoinTicket and error frames', () => {
  it('returns the claims of a valid ticket and rejects it after expiry', () => {
    const sessionId = randomUUID();
    const ticket = signTicket({ sessionId }, { expiresIn: 60 });
    expect(verifyJoinTicket(ticket, DEV_JOIN_TICKET_SECRET, Date.now()).sid).to.equal(sessionId);
    expect(() => verifyJoinTicket(ticket, DEV_JOIN_TICKET_SECRET, Date.now() + 61_000)).to.throw(/expired/);
  });

  it('encodes a typed error with its code and seq, and hides unknown errors as INTERNAL', () => {
    expect(JSON.parse(errorFrame(new NotLive(4)))).to.include({ code: ErrorCode.NOT_LIVE, seq: 4 });
    expect(JSON.parse(errorFrame(new Error('db password xyz')))).to.deep.equal({
      type: 'error',
      code: ErrorCode.INTERNAL,
      message: 'internal error',
    });
  });

  it("adds the client's age-band board when the snapshot carries bands, encoded once per band (issue 16)", () => {
    const [ana, bo, cy] = [randomUUID(), randomUUID(), randomUUID()];
    const top = [
      { rank: 1, userId: ana, name: 'Ana', score: 30 },
      { rank: 2, userId: bo, name: 'Bo', score: 20 },
    ];
    const bandTop = [{ rank: 1, userId: bo, name: 'Bo', score: 20 }];
    const got = new Map<string, string>();
    fanOutRanks(
      {
        sessionId: randomUUID(),
        tick: 1,
        at: 0,
        participants: 3,
        top,
        chunk: 0,
        chunks: 1,
        userIds: [ana, bo, cy],
        ranks: [1, 2, 3],
        scores: [30, 20, 10],
        seqs: [3, 2, 1],
        bandOf: [-1, 1, 1],
        bandRanks: [0, 1, 2],
        bands: [null, { participants: 2, top: bandTop }, null, null, null, null],
      },
      (userId) => [{ offerRank: (f: string) => got.set(userId, f) }],
    );
    expect(JSON.parse(got.get(ana)!)).to.not.have.property('band');
    expect(JSON.parse(got.get(cy)!).band).to.deep.equal({
      id: '25-34',
      participants: 2,
      top: bandTop,
      rank: 2,
    });
    expect(RankFrame.safeParse(JSON.parse(got.get(cy)!)).success).to.equal(true);
  });
});

describe('readRankSnapshot band columns (issue 16)', () => {
  const base = (extra: object) =>
    JSON.stringify({
      sessionId: SID,
      tick: 0,
      at: 0,
      participants: 1,
      top: [],
      chunk: 0,
      chunks: 1,
      userIds: ['u'],
      ranks: [1],
      scores: [1],
      seqs: [1],
      ...extra,
    });
  const SID = randomUUID();

  it('takes all three band columns or none, and refuses any that does not fit', () => {
    const bands = [null, { participants: 1, top: [] }, null, null, null, null];
    expect(readRankSnapshot(base({}), SID)).to.not.equal(null);
    expect(readRankSnapshot(base({ bandOf: [1], bandRanks: [1], bands }), SID)).to.not.equal(null);
    expect(readRankSnapshot(base({ bandOf: [1], bandRanks: [1] }), SID)).to.equal(null);
    expect(readRankSnapshot(base({ bandOf: [1, 1], bandRanks: [1], bands }), SID)).to.equal(null);
    expect(readRankSnapshot(base({ bandOf: [9], bandRanks: [1], bands }), SID)).to.equal(null);
    expect(readRankSnapshot(base({ bandOf: [1], bandRanks: [-1], bands }), SID)).to.equal(null);
    expect(readRankSnapshot(base({ bandOf: ['x'], bandRanks: [1], bands }), SID)).to.equal(null);
  });

  it('takes top entries with exactly the frame contract’s fields, at most ten (bands: five)', () => {
    const entry = { rank: 1, userId: randomUUID(), name: 'Ana', score: 12.5 };
    expect(readRankSnapshot(base({ top: [entry] }), SID)?.top).to.deep.equal([entry]);
    expect(readRankSnapshot(base({ top: Array(10).fill(entry) }), SID)).to.not.equal(null);
    expect(readRankSnapshot(base({ top: Array(11).fill(entry) }), SID)).to.equal(null);
    for (const bad of [
      { ...entry, extra: 1 },
      { ...entry, rank: 0 },
      { ...entry, rank: 1.5 },
      { ...entry, name: 7 },
      { ...entry, userId: null },
      { rank: 1, userId: entry.userId, name: 'Ana' },
      null,
      'Ana',
    ]) {
      expect(readRankSnapshot(base({ top: [bad] }), SID), JSON.stringify(bad)).to.equal(null);
    }
    const band = (top: unknown[]) => [null, { participants: 6, top }, null, null, null, null];
    const one = { bandOf: [1], bandRanks: [1] };
    expect(readRankSnapshot(base({ ...one, bands: band(Array(5).fill(entry)) }), SID)).to.not.equal(null);
    expect(readRankSnapshot(base({ ...one, bands: band(Array(6).fill(entry)) }), SID)).to.equal(null);
    expect(readRankSnapshot(base({ ...one, bands: band([{ ...entry, score: 'x' }]) }), SID)).to.equal(null);
  });
});
