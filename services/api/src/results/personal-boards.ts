import type { EntityManager } from '@mikro-orm/postgresql';
import { executeBound } from '../db/prepared.js';
import type { BoardRow } from './final-boards.js';
import type { PersonalNumbers } from './personal-view.js';

/**
 * Any constant key: every freeze takes this transaction-level advisory lock before it decides personal bests,
 * so two replicas freezing classes of the same trainee at once cannot both miss each other's rows. Freezes
 * happen once per session and in batches, so serializing this one statement costs nothing noticeable.
 */
const PERSONAL_BEST_LOCK = 16_0016;

/** A participant's personal-board numbers as the freeze's insert returns them (issue 16). */
export type PersonalRow = { session_id: string; user_id: string } & Required<Omit<PersonalNumbers, 'band'>>;

/** A board row as the freeze inserts it: its session's end time comes along. */
export type BoardInsertRow = BoardRow & { ended_at: string };

/**
 * Inserts the boards' rows of a batch of sessions, in one statement, with what the frozen results add for
 * personal boards (issue 16) computed on the way in, so a frozen answer never changes afterwards and no row is
 * written twice (an update of every row just inserted doubled the freeze of a 10,000-participant class):
 *
 * - band rank: the participant's place among the class's participants of the same age band (the band they were
 *   on the live band board under, opted in at join), in the whole board's order, as `rank.band` had it;
 * - following rank: their place among themselves and the people they follow at freeze time (moments after the
 *   end) who were on the class's board, in the whole board's order, as the last `rank.following` had it;
 *   null when they followed none of them;
 * - personal best: their score is above every score they made in a class of the same type frozen before
 *   (a first class of a type is one), or frozen in the same batch and ended before.
 *
 * Returns the personal numbers of the rows inserted, so the replica that froze can serve them without reading
 * them back.
 */
export async function insertBoards(tx: EntityManager, rows: BoardInsertRow[]): Promise<PersonalRow[]> {
  if (rows.length === 0) return [];
  await executeBound(tx, 'select pg_advisory_xact_lock(?)', [PERSONAL_BEST_LOCK]);
  return executeBound<PersonalRow>(
    tx,
    `with board as (
       select x.*, s.type as session_type
       from json_to_recordset(?::json) as x(session_id uuid, user_id uuid, rank integer, name text,
         score float8, calories float8, avg_energy float8, samples integer, minutes json,
         ended_at timestamptz, band text)
       join workout_session s on s.id = x.session_id
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
     insert into session_result
       (session_id, user_id, rank, name, score, calories, avg_energy, samples, minutes, ended_at, band,
        session_type, band_rank, band_participants, following_rank, following_participants, personal_best)
     select p.session_id, p.user_id, p.rank, p.name, p.score, p.calories, p.avg_energy, p.samples, p.minutes,
       p.ended_at, p.band, p.session_type, banded.band_rank, banded.band_participants,
       following.following_rank, following.following_participants,
       p.score > greatest(coalesce(e.best_before, -1), coalesce((
         select max(o.score) from session_result o
         where o.user_id = p.user_id and o.session_type = p.session_type and o.score is not null
       ), -1))
     from board p
     join earlier_in_batch e on e.session_id = p.session_id and e.user_id = p.user_id
     left join banded on banded.session_id = p.session_id and banded.user_id = p.user_id
     left join following on following.session_id = p.session_id and following.user_id = p.user_id
     on conflict do nothing
     returning session_id, user_id, band_rank, band_participants, following_rank, following_participants,
       personal_best`,
    [JSON.stringify(rows)],
  );
}
