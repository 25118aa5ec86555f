import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { SessionSnapshot } from '@pulse/contracts';
import type { Page } from '../pagination.js';
import { BoundedCache } from './bounded-cache.js';
import type { MinuteTuple } from './results-freeze.js';
import type { LeaderboardEntry, MyResult, ResultsPage } from './results-view.js';

/** Bumped when the shape of a results body changes, so clients' stored ETags stop matching. */
const BODY_FORMAT = 1;
/** Frozen sessions kept in memory (a few hundred bytes each). */
export const FROZEN_SESSIONS_CACHED = 10_000;
/** Board pages kept in memory (up to 100 entries each). */
export const FROZEN_PAGES_CACHED = 20_000;

export interface FrozenSession {
  session: SessionSnapshot;
  participants: number;
  frozenAt: Date;
}

/**
 * Reads of frozen results (see ResultsFreezer). A participant's request costs one primary-key lookup (its
 * own row); the board page and the session come from memory after their first read, since neither can
 * change once frozen. Pending reads are shared, so a stampede on a fresh page costs one query.
 */
export class FrozenResults {
  private readonly sessions = new BoundedCache<string, Promise<FrozenSession | null>>(FROZEN_SESSIONS_CACHED);
  private readonly pages = new BoundedCache<string, Promise<Page<LeaderboardEntry>>>(FROZEN_PAGES_CACHED);

  constructor(private readonly orm: MikroORM) {}

  /** The frozen session, or null while it is not frozen (null is not cached: it may be frozen soon). */
  async session(sessionId: string): Promise<FrozenSession | null> {
    let read = this.sessions.get(sessionId);
    if (read === undefined) {
      read = this.readSession(sessionId);
      this.sessions.set(sessionId, read);
    }
    const frozen = await read.catch((err: unknown) => {
      this.sessions.delete(sessionId);
      throw err;
    });
    if (frozen === null) this.sessions.delete(sessionId);
    return frozen;
  }

  /** Strong validator of one caller's view of one page: frozen data, so it never changes. */
  etag(sessionId: string, frozen: FrozenSession, userId: string, page: ResultsPage): string {
    const key = `${BODY_FORMAT}:${sessionId}:${frozen.frozenAt.getTime()}:${page.afterRank}:${page.limit}:${userId}`;
    return `"${createHash('sha256').update(key).digest('base64url').slice(0, 27)}"`;
  }

  page(sessionId: string, page: ResultsPage): Promise<Page<LeaderboardEntry>> {
    const key = `${sessionId}:${page.afterRank}:${page.limit}`;
    let read = this.pages.get(key);
    if (read === undefined) {
      read = this.readPage(sessionId, page);
      this.pages.set(key, read);
      read.catch(() => this.pages.delete(key));
    }
    return read;
  }

  /** The caller's own row: one primary-key lookup; undefined when not on the board. */
  async me(sessionId: string, userId: string): Promise<MyResult | undefined> {
    const [row] = await this.orm.em.getConnection().execute<
      Array<{
        rank: number | null;
        score: number;
        calories: number;
        avg_energy: number;
        minutes: MinuteTuple[];
      }>
    >(
      `select rank, score, calories, avg_energy, minutes from session_result
       where session_id = ? and user_id = ?`,
      [sessionId, userId],
    );
    if (row === undefined || row.rank === null) return undefined;
    return {
      rank: row.rank,
      score: row.score,
      calories: row.calories,
      avgEnergy: row.avg_energy,
      minutes: row.minutes.map(([minute, avgEnergy, maxEnergy, samples]) => ({
        minute,
        avgEnergy,
        maxEnergy,
        samples,
      })),
    };
  }

  private async readSession(sessionId: string): Promise<FrozenSession | null> {
    const [row] = await this.orm.em
      .getConnection()
      .execute<Array<{ session: SessionSnapshot; participants: number; frozen_at: Date }>>(
        'select session, participants, frozen_at from session_result_freeze where session_id = ?',
        [sessionId],
      );
    if (row === undefined) return null;
    return { session: row.session, participants: row.participants, frozenAt: new Date(row.frozen_at) };
  }

  private async readPage(sessionId: string, page: ResultsPage): Promise<Page<LeaderboardEntry>> {
    const rows = await this.orm.em
      .getConnection()
      .execute<Array<{ rank: number; user_id: string; name: string; score: number; calories: number }>>(
        `select rank, user_id, name, score, calories from session_result
       where session_id = ? and rank > ? order by rank limit ?`,
        [sessionId, page.afterRank, page.limit + 1],
      );
    const items = rows.slice(0, page.limit).map((r) => ({
      rank: r.rank,
      userId: r.user_id,
      name: r.name,
      score: r.score,
      calories: r.calories,
    }));
    const last = items.at(-1);
    return { items, nextCursor: rows.length > page.limit && last ? String(last.rank) : null };
  }
}
