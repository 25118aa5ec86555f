import type { EntityManager } from '@mikro-orm/postgresql';
import { executeBound } from '../db/prepared.js';
import type { BoardRow } from './final-boards.js';
import type { PersonalNumbers } from './personal-view.js';

/**
 * Any constant key: every freeze takes this transaction-level advisory lock (`FREEZE_LOCK_SQL`, in the statement
 * that claims its sessions) before it decides personal bests, so two replicas freezing classes of the same
 * trainee at once cannot both miss each other's rows. Freezes happen once per session and in batches, so
 * serializing them costs nothing noticeable.
 */
const PERSONAL_BEST_LOCK = 16_0016;

/** A CTE (`freeze_lock`, one row) that takes the personal-best lock; the claim's statement joins it. */
export const FREEZE_LOCK_SQL = `freeze_lock as (select pg_advisory_xact_lock(${PERSONAL_BEST_LOCK}))`;

/** A participant's personal-board numbers as the freeze decides them (issue 16). */
export type PersonalRow = { session_id: string; user_id: string } & Required<Omit<PersonalNumbers, 'band'>>;

/** What the board rows of one session share: its end and type, written with each row. */
export interface BoardSession {
  session_id: string;
  ended_at: string;
  session_type: string;
}

/**
 * Decides what the frozen results add for personal boards (issue 16) to the boards of a batch of sessions, so a
 * frozen answer never changes afterwards:
 *
 * - band rank: the participant's place among the class's participants of the same age band (the band they were
 *   on the live band board under, opted in at join), in the whole board's order, as `rank.band` had it;
 * - following rank: their place among themselves and the people they follow at freeze time (moments after the
 *   end) who were on the class's board, in the whole board's order, as the last `rank.following` had it;
 *   null when they followed none of them;
 * - personal best: their score is above every score they made in a class of the same type frozen before
 *   (a first class of a type is one), or frozen in the same batch and ended before.
 *
 * The caller holds the freeze lock (`FREEZE_LOCK_SQL`) to the end of `tx`, and inserts these rows with
 * `insertBoards` before it commits: a best is decided against every freeze committed before it.
 */
export async function personalNumbersOf(
  tx: EntityManager,
  sessions: BoardSession[],
  rows: readonly BoardRow[],
): Promise<PersonalRow[]> {
  if (rows.length === 0) return [];
  // Only what the decisions read goes over the wire (a class's minutes are most of its rows' bytes).
  const board = rows.map(({ session_id, user_id, rank, score, band }) => ({
    session_id,
    user_id,
    rank,
    score,
    band,
  }));
  return executeBound<PersonalRow>(
    tx,
    `with board as (
       select x.*, s.ended_at, s.session_type
       from json_to_recordset(?::json) as x(session_id uuid, user_id uuid, rank integer, score float8, band text)
       join json_to_recordset(?::json) as s(session_id uuid, ended_at timestamptz, session_type text)
         on s.session_id = x.session_id
     ),
     banded as (
       select session_id, user_id,
         row_number() over (partition by session_id, band order by rank) as band_rank,
         count(*) over (partition by session_id, band) as band_participants
       from board where band is not null
     ),
     following as (
       select p.session_id, p.user_id,
         1 + count(*) filter (where q.rank < p.rank) as following_rank,
         1 + count(*) as following_participants
       from board p
       join follow f on f.follower_id = p.user_id
       join board q on q.session_id = p.session_id and q.user_id = f.followee_id
       group by p.session_id, p.user_id
     ),
     earlier_in_batch as (
       select session_id, user_id,
         max(score) over (partition by user_id, session_type order by ended_at, session_id
           rows between unbounded preceding and 1 preceding) as best_before
       from board
     )
     select p.session_id, p.user_id, banded.band_rank::int, banded.band_participants::int,
       following.following_rank::int, following.following_participants::int,
       p.score > greatest(coalesce(e.best_before, -1), coalesce((
         select max(o.score) from session_result o
         where o.user_id = p.user_id and o.session_type = p.session_type and o.score is not null
       ), -1)) as personal_best
     from board p
     join earlier_in_batch e on e.session_id = p.session_id and e.user_id = p.user_id
     left join banded on banded.session_id = p.session_id and banded.user_id = p.user_id
     left join following on following.session_id = p.session_id and following.user_id = p.user_id`,
    [JSON.stringify(board), JSON.stringify(sessions)],
  );
}

/**
 * Inserts the boards' rows of a batch of sessions with their personal numbers (`personalNumbersOf`, in the same
 * transaction, set on the rows), in one statement: every board as one JSON parameter, one round trip for 10,000
 * rows; each row's end and type come from its session's entry.
 */
export async function insertBoards(
  tx: EntityManager,
  sessions: BoardSession[],
  rows: ReadonlyArray<BoardRow & PersonalRow>,
): Promise<void> {
  if (rows.length === 0) return;
  await executeBound(
    tx,
    `insert into session_result
       (session_id, user_id, rank, name, score, calories, avg_energy, samples, minutes, ended_at, band,
        session_type, band_rank, band_participants, following_rank, following_participants, personal_best)
     select x.session_id, x.user_id, x.rank, x.name, x.score, x.calories, x.avg_energy, x.samples, x.minutes,
       s.ended_at, x.band, s.session_type, x.band_rank, x.band_participants, x.following_rank,
       x.following_participants, x.personal_best
     from json_to_recordset(?::json) as x(session_id uuid, user_id uuid, rank integer, name text,
       score float8, calories float8, avg_energy float8, samples integer, minutes json, band text,
       band_rank integer, band_participants integer, following_rank integer, following_participants integer,
       personal_best boolean)
     join json_to_recordset(?::json) as s(session_id uuid, ended_at timestamptz, session_type text)
       on s.session_id = x.session_id
     on conflict do nothing`,
    [JSON.stringify(rows), JSON.stringify(sessions)],
  );
}
