import type { EntityManager } from '@mikro-orm/postgresql';
import { executeBound } from '../db/prepared.js';

/**
 * Any constant key: every freeze takes this transaction-level advisory lock before it decides personal bests,
 * so two replicas freezing classes of the same trainee at once cannot both miss each other's rows. Freezes
 * happen once per session and in batches, so serializing this one statement costs nothing noticeable.
 */
const PERSONAL_BEST_LOCK = 16_0016;

/** A participant's personal-board numbers as frozen (issue 16). */
export interface PersonalRow {
  session_id: string;
  user_id: string;
  band_rank: number | null;
  band_participants: number | null;
  following_rank: number | null;
  following_participants: number | null;
  personal_best: boolean | null;
}

/**
 * Computes, once, in the freeze's transaction (after the sessions' rows are inserted), what the frozen results
 * add for personal boards (issue 16), so a frozen answer never changes afterwards:
 *
 * - band rank: the participant's place among the class's participants of the same age band (the band they were
 *   on the live band board under, opted in at join), in the whole board's order, as `rank.band` had it;
 * - following rank: their place among themselves and the people they follow at freeze time (moments after the
 *   end) who were on the class's board, in the whole board's order, as the last `rank.following` had it;
 *   null when they followed none of them;
 * - personal best: their score is above every score they made in a class of the same type frozen before
 *   (a first class of a type is one), or frozen in the same batch and ended before; null off the board.
 *
 * Returns the rows, so the replica that froze can serve them without reading them back.
 */
export async function storePersonalBoards(tx: EntityManager, sessionIds: string[]): Promise<PersonalRow[]> {
  const ids = JSON.stringify(sessionIds);
  await executeBound(tx, 'select pg_advisory_xact_lock(?)', [PERSONAL_BEST_LOCK]);
  return executeBound<PersonalRow>(
    tx,
    `with batch as (select value::uuid as session_id from json_array_elements_text(?::json)),
     board as (
       select r.session_id, r.user_id, r.rank, r.score, r.band, r.ended_at, s.type
       from session_result r join workout_session s on s.id = r.session_id
       where r.session_id in (select session_id from batch) and r.rank is not null
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
     best as (
       select p.session_id, p.user_id,
         p.score > coalesce((
           select max(o.score) from session_result o
           where o.user_id = p.user_id and o.session_type = p.type and o.score is not null
             and o.session_id <> p.session_id
             and (o.session_id not in (select session_id from batch)
               or (o.ended_at, o.session_id) < (p.ended_at, p.session_id))
         ), -1) as personal_best
       from board p
     )
     update session_result r set
       band_rank = banded.band_rank, band_participants = banded.band_participants,
       following_rank = following.following_rank,
       following_participants = following.following_participants,
       personal_best = best.personal_best
     from best
     left join banded on banded.session_id = best.session_id and banded.user_id = best.user_id
     left join following on following.session_id = best.session_id and following.user_id = best.user_id
     where r.session_id = best.session_id and r.user_id = best.user_id
     returning r.session_id, r.user_id, r.band_rank, r.band_participants, r.following_rank,
       r.following_participants, r.personal_best`,
    [ids],
  );
}
