import { expect } from 'chai';
import type { RankFrame, ServerFrame } from '@pulse/contracts';
import type { LocalStack } from '../../src/stack.js';
import { type LocalStackOptions } from '../../src/stack.js';
import {
  ApiClient,
  registerAndJoin,
  registerTrainees,
  type Account,
  type Session,
} from '../../src/client/rest.js';
import { TraineeConnection } from '../../src/client/trainee.js';
import { waitFor } from '../../src/stack/ports.js';
import { storedRatings } from '../../src/metrics/stored-ratings.js';

/** Compressed time for end-to-end runs: a "minute" lasts 2 s, ranks tick every 100 ms. */
export const MINUTE_MS = 2_000;
export const RANK_TICK_MS = 100;

export const e2eStackOptions = (extra: LocalStackOptions = {}): LocalStackOptions => ({
  gateways: 2,
  engines: 1,
  ...extra,
  env: {
    'live-engine': {
      MINUTE_MS: String(MINUTE_MS),
      RANK_TICK_MS: String(RANK_TICK_MS),
      RESULTS_FLUSH_MS: '500',
      LOG_LEVEL: 'info',
      ...extra.env?.['live-engine'],
    },
    gateway: {
      RATING_RATE_PER_SEC: '50',
      RATING_BURST: '200',
      // Every test trainee connects from 127.0.0.1; the per-address cap (issue 11) is for the internet.
      MAX_SOCKETS_PER_ADDRESS: '100000',
      ...extra.env?.gateway,
    },
    api: { LOGIN_MAX_PER_IP: '100000', LOGIN_MAX_PER_ACCOUNT: '100000', ...extra.env?.api },
  },
});

/** One rating as the test sent it; `resend` marks a repeat of an earlier seq. */
export interface SentRating {
  userId: string;
  seq: number;
  energy: number;
  resend?: boolean;
}

export interface Trainee {
  account: Account;
  conn: TraineeConnection;
  sent: SentRating[];
  seq: number;
}

/** A trainer's session with trainees registered and connected (round-robin over the gateways). */
export class SessionFixture {
  readonly api: ApiClient;
  trainer!: Account;
  session!: Session;
  trainees: Trainee[] = [];

  constructor(readonly stack: LocalStack) {
    this.api = new ApiClient(stack.apiUrl);
  }

  async create(traineeCount: number, prefix = 'Rider'): Promise<void> {
    this.trainer = await this.api.register('trainer', `Coach ${prefix}`);
    this.session = await this.api.createSession(this.trainer.accessToken, {
      title: `E2E ${prefix}`,
      capacity: 10_000,
    });
    const accounts = await registerTrainees(this.api, traineeCount, 16, prefix);
    const joins = await registerAndJoin(this.api, this.session.id, accounts);
    this.trainees = accounts.map((account, i) => {
      expect(joins[i].state, `join state of ${account.user.name}`).to.equal('waiting');
      const url = this.stack.gatewayUrls[i % this.stack.gatewayUrls.length];
      return {
        account,
        conn: new TraineeConnection(url, joins[i].ticket, { validate: 'full', keepFrames: true }),
        sent: [],
        seq: 0,
      };
    });
  }

  async connectAll(): Promise<void> {
    await Promise.all(this.trainees.map((t) => t.conn.connect()));
  }

  start(): Promise<Session> {
    return this.api.lifecycle(this.trainer.accessToken, this.session.id, 'start');
  }
  end(): Promise<Session> {
    return this.api.lifecycle(this.trainer.accessToken, this.session.id, 'end');
  }

  /** Sends the trainee's next rating and logs it. */
  rate(t: Trainee, energy: number): SentRating {
    t.seq++;
    const r = { userId: t.account.user.id, seq: t.seq, energy };
    t.conn.sendRating(r.seq, r.energy);
    t.sent.push(r);
    return r;
  }
  /** Sends an earlier seq again (what a device does after a reconnect) and logs it as a resend. */
  resend(t: Trainee, seq: number): void {
    const original = t.sent.find((s) => s.seq === seq && !s.resend)!;
    t.conn.sendRating(seq, original.energy, false);
    t.sent.push({ ...original, resend: true });
  }

  allSent(): SentRating[] {
    return this.trainees.flatMap((t) => t.sent);
  }

  /** Waits until every trainee holds a rank frame counting its last seq, then one more tick for everyone. */
  async settleRanks(timeoutMs = 30_000): Promise<Map<string, RankFrame>> {
    await Promise.all(this.trainees.map((t) => t.conn.waitForRankSeq(t.seq, timeoutMs)));
    await Promise.all(this.trainees.map((t) => t.conn.nextFrame((f) => f.type === 'rank', timeoutMs)));
    await Promise.all(this.trainees.map((t) => t.conn.nextFrame((f) => f.type === 'rank', timeoutMs)));
    return new Map(this.trainees.map((t) => [t.account.user.id, t.conn.lastRank!]));
  }

  /** Polls the results endpoint (as the trainer) until `accept` is happy or the time is up. */
  async resultsWhen(
    accept: (items: { userId: string; rank: number; score: number }[]) => boolean,
    timeoutMs = 30_000,
  ) {
    let last: Awaited<ReturnType<ApiClient['allResults']>> | undefined;
    try {
      return await waitFor(
        'results',
        async () => {
          last = await this.api.allResults(this.trainer.accessToken, this.session.id);
          return accept(last.items) ? last : undefined;
        },
        timeoutMs,
        250,
      );
    } catch (err) {
      if (last) return last;
      throw err;
    }
  }

  /** Polls ClickHouse until `expected` ratings of the session are stored (or the time is up). */
  async storedWhen(expected: number, timeoutMs = 30_000) {
    const { infra, isolation } = this.stack;
    let last: Awaited<ReturnType<typeof storedRatings>> | undefined;
    try {
      await waitFor(
        'ClickHouse ratings',
        async () => {
          last = await storedRatings(infra.clickhouseUrl, isolation.clickhouseDb, [this.session.id]);
          return last.stored >= expected ? last : undefined;
        },
        timeoutMs,
        250,
      );
    } catch {
      // fall through: the caller asserts on the last reading and reports the difference
    }
    return last ?? storedRatings(infra.clickhouseUrl, isolation.clickhouseDb, [this.session.id]);
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.trainees.map((t) => (t.conn.open ? t.conn.close() : undefined)));
  }
}

/** The frames a connection received, by type, for readable assertion messages. */
export const framesOf = (conn: TraineeConnection, type: ServerFrame['type']) =>
  conn.frames.filter((f) => f.type === type);

/** Deterministic pseudo-random integers (mulberry32), so a failing run can be replayed. */
export function seededRandom(seed: number): (lo: number, hi: number) => number {
  let a = seed >>> 0;
  return (lo, hi) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + Math.floor(r * (hi - lo + 1));
  };
}

export const sleepUntil = (epochMs: number) =>
  new Promise<void>((r) => setTimeout(r, Math.max(0, epochMs - Date.now())));

/**
 * The end-to-end suites start a whole stack and register hundreds of accounts (argon2): minutes of CPU.
 * They are part of `npm test`; PULSE_E2E=0 skips them (e.g. while iterating on one service's unit tests).
 */
export const e2eEnabled = process.env.PULSE_E2E !== '0';
export const describeE2e = e2eEnabled ? describe : describe.skip;
