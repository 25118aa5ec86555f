import type { MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { SessionSnapshot } from '@pulse/contracts';
import { queryPrepared } from '../db/prepared.js';
import type { PreparedStatement } from '../db/prepared.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import type { Page } from '../pagination.js';
import { INSTANT_RANGE_MESSAGE, isStorableInstant } from '../timestamps.js';
import { personalBoardsOf, type PersonalNumbers } from './personal-view.js';
import type { MyBand, MyFollowing } from './results-view.js';

export interface HistoryEntry {
  session: SessionSnapshot;
  rank: number | null;
  participants: number | null;
  score: number | null;
  calories: number | null;
  avgEnergy: number | null;
  /** Issue 16: the age band's board, the board of the people followed, a personal best (frozen). */
  band: MyBand | null;
  following: MyFollowing | null;
  personalBest: boolean;
}
const HistoryCursor = z.object({
  // Year 0000 and the like are valid ISO strings but not PostgreSQL instants: a 400, never a 500 (issue 11).
  endedAt: z.string().datetime().refine(isStorableInstant, INSTANT_RANGE_MESSAGE),
  id: z.string().uuid(),
});

interface HistoryRow extends PersonalNumbers {
  session_id: string;
  ended_at: Date;
  rank: number | null;
  score: number | null;
  calories: number | null;
  avg_energy: number | null;
  participants: number;
  session: SessionSnapshot;
}

const PAGE = (after: string, limit: string) =>
  `select r.session_id, r.ended_at, r.rank, r.score, r.calories, r.avg_energy, f.participants, f.session,
     r.band, r.band_rank, r.band_participants, r.following_rank, r.following_participants, r.personal_best
   from session_result r join session_result_freeze f on f.session_id = r.session_id
   where r.user_id = $1::uuid ${after}
   order by r.ended_at desc, r.session_id desc limit ${limit}`;
/** The history's two statements: its first page (trainee, limit) and the next (trainee, cursor, limit). */
export const FIRST_PAGE: PreparedStatement = { name: 'history_first_page', text: PAGE('', '$2::int') };
export const NEXT_PAGE: PreparedStatement = {
  name: 'history_next_page',
  text: PAGE('and (r.ended_at, r.session_id) < ($2::timestamptz, $3::uuid)', '$4::int'),
};

/** Boards this replica decided (results are answered from them) and is still writing (FrozenResults). */
export interface UnwrittenBoards {
  committedFor(userId: string, maxMs: number): Promise<void>;
}
/**
 * How long a first page waits for a board of the trainee's that this replica is still writing (a class of
 * 10,000 was written within 0.4–0.9 s of its decision on a busy box); after it the page is answered as it is.
 */
export const HISTORY_WAIT_FOR_WRITE_MS = 2_000;

/**
 * Ended sessions the trainee took part in, newest first, from the frozen results (one row per participant
 * and per trainee who joined without reaching the board, whose numbers are null). One keyset range scan on
 * `session_result (user_id, ended_at desc, session_id desc)` and a primary-key join per row of the page,
 * so the cost of a page does not grow with the trainee's number of sessions. A session appears once its
 * results are frozen, moments after it ends; a trainee of a class whose results this replica just answered finds it
 * there (on the board or joined without reaching it).
 */
export class HistoryService {
  /**
   * @param unwritten boards this replica decided and is writing: the first page waits for the trainee's, so
   * that a session whose results were just answered is in the history asked for next
   */
  constructor(
    private readonly orm: MikroORM,
    private readonly unwritten?: UnwrittenBoards,
  ) {}

  async history(traineeId: string, page: { limit: number; cursor?: string }): Promise<Page<HistoryEntry>> {
    if (page.cursor === undefined) await this.unwritten?.committedFor(traineeId, HISTORY_WAIT_FOR_WRITE_MS);
    const rows =
      page.cursor === undefined
        ? await queryPrepared<HistoryRow>(this.orm, FIRST_PAGE, [traineeId, page.limit + 1])
        : await this.after(traineeId, decodeCursor(page.cursor, HistoryCursor), page.limit + 1);
    const items = rows.slice(0, page.limit);
    const last = items.at(-1);
    return {
      items: items.map((r) => {
        const onBoard = r.rank !== null;
        return {
          session: r.session,
          rank: r.rank,
          participants: onBoard ? r.participants : null,
          score: r.score,
          calories: r.calories,
          avgEnergy: r.avg_energy,
          ...personalBoardsOf(r),
        };
      }),
      nextCursor:
        rows.length > page.limit && last
          ? encodeCursor({ endedAt: new Date(last.ended_at).toISOString(), id: last.session_id })
          : null,
    };
  }

  private after(traineeId: string, cursor: z.infer<typeof HistoryCursor>, limit: number) {
    return queryPrepared<HistoryRow>(this.orm, NEXT_PAGE, [traineeId, cursor.endedAt, cursor.id, limit]);
  }
}
