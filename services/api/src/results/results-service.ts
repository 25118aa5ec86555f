import type { MikroORM } from '@mikro-orm/postgresql';
import { LRUCache } from 'lru-cache';
import { NotFound, ResultsPending } from '../errors.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { assertAllowed } from '../sessions/state-machine.js';
import type { FrozenResults, FrozenSession } from './frozen-results.js';
import type { LiveResults } from './live-results.js';
import type { FreezeOutcome, ResultsFreezer } from './results-freeze.js';
import type { ResultsPage } from './results-view.js';

/** What a client is told to wait before asking again for results that are being frozen. */
export const RESULTS_RETRY_AFTER_SEC = 1;
/**
 * How long a request for an ended, unfrozen session waits for the freeze before it asks ClickHouse itself (and
 * answers 202 if the session is not final yet). At the end of a class the engine's notice usually has its
 * results frozen well within this (issue 13: ≤ 2 s after `POST /end`).
 */
export const FREEZE_WAIT_MS = 1_000;
/** Ended sessions remembered as ended (an id each). */
const SEEN_ENDED_CACHED = 10_000;

/** Lets the results route hand an unfrozen, ended session to the background freezer. */
export interface FreezeSignal {
  watch(sessionId: string): void;
}

/**
 * One caller's results: `etag` is set when they are frozen (immutable; the body is read only when the
 * client's copy is stale), absent while the session is live. `json` is the SessionResults body.
 */
export interface ResultsAnswer {
  etag?: string;
  json(): Promise<string>;
}

export class ResultsService {
  /** Requests that waited in vain share one look at ClickHouse (and a freeze if final) per session. */
  private readonly checking = new Map<string, Promise<FreezeOutcome>>();
  /**
   * Sessions seen ended and not frozen yet: ended is final, so until the freeze their requests need no read of
   * the session's row (10,000 participants asking as their class ends were 10,000 reads beside the freeze).
   */
  private readonly seenEnded = new LRUCache<string, true>({ max: SEEN_ENDED_CACHED });
  private readonly reading = new Map<string, Promise<WorkoutSession | null>>();

  constructor(
    private readonly orm: MikroORM,
    private readonly frozen: FrozenResults,
    private readonly live: LiveResults,
    private readonly freezer: ResultsFreezer,
    private readonly signal: FreezeSignal,
  ) {}

  /**
   * Frozen → served from PostgreSQL and memory. Live → the current standings from ClickHouse. Ended but
   * not frozen → waits up to FREEZE_WAIT_MS for its freeze (the FreezeWatch's, on the engine's notice), then
   * freezes it if ClickHouse has it final, else ResultsPending (202).
   */
  async results(sessionId: string, userId: string, page: ResultsPage): Promise<ResultsAnswer> {
    const frozen = await this.frozen.session(sessionId);
    if (frozen !== null) return this.frozenAnswer(sessionId, frozen, userId, page);
    if (this.seenEnded.get(sessionId) === undefined) {
      const session = await this.sessionRow(sessionId);
      if (session === null) throw new NotFound('session', sessionId);
      assertAllowed(session, 'results');
      if (session.status === 'live')
        return { json: async () => JSON.stringify(await this.live.results(session, userId, page)) };
      this.seenEnded.set(sessionId, true);
    }
    this.signal.watch(sessionId);
    const outcome = (await this.freezer.frozenSoon(sessionId, FREEZE_WAIT_MS))
      ? 'frozen'
      : await this.freezeIfFinal(sessionId);
    const nowFrozen = outcome === 'frozen' ? await this.frozen.session(sessionId) : null;
    if (nowFrozen !== null) return this.frozenAnswer(sessionId, nowFrozen, userId, page);
    throw new ResultsPending(sessionId, RESULTS_RETRY_AFTER_SEC);
  }

  /**
   * Freezes the session now if ClickHouse has it final (when no FreezeWatch froze it in time: none runs, or it
   * missed the end); asked outside the freezer's queue, so sessions that are not final never wait in it.
   */
  private freezeIfFinal(sessionId: string): Promise<FreezeOutcome> {
    let check = this.checking.get(sessionId);
    if (check === undefined) {
      check = this.freezer
        .finalAmong([sessionId])
        .then((final) => (final.length > 0 ? this.freezer.readable(sessionId) : 'pending'))
        .finally(() => this.checking.delete(sessionId));
      this.checking.set(sessionId, check);
    }
    return check;
  }

  /** The session's row; callers asking at the same moment share one read. */
  private sessionRow(sessionId: string): Promise<WorkoutSession | null> {
    let read = this.reading.get(sessionId);
    if (read === undefined) {
      read = this.orm.em
        .fork()
        .findOne(WorkoutSession, sessionId)
        .finally(() => this.reading.delete(sessionId));
      this.reading.set(sessionId, read);
    }
    return read;
  }

  private frozenAnswer(
    sessionId: string,
    frozen: FrozenSession,
    userId: string,
    page: ResultsPage,
  ): ResultsAnswer {
    return {
      etag: this.frozen.etag(sessionId, frozen, userId, page),
      // A stampede asks for the same few pages thousands of times: the body is put together from the
      // session's, the page's and the caller's JSON, each serialized once (key order as SessionResults).
      json: async () => {
        const [leaderboard, me] = await Promise.all([
          this.frozen.page(sessionId, page),
          this.frozen.me(sessionId, frozen, userId),
        ]);
        const session = this.frozen.json(frozen.session);
        const mine = me === undefined ? '' : `,"me":${this.frozen.json(me)}`;
        return `{"session":${session},"final":true,"leaderboard":${this.frozen.json(leaderboard)}${mine}}`;
      },
    };
  }
}
