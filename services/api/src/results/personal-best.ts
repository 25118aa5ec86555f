import type { EntityManager } from '@mikro-orm/postgresql';
import { BEST_CURVE_MAX_MINUTES, type PersonalBestClaim } from '@pulse/contracts';
import { executeBound } from '../db/prepared.js';
import type { MinuteTuple } from './final-boards.js';

/**
 * The trainee's best finished score of a session type with its per-minute curve (issue 16), for the join
 * ticket: the highest frozen score of that type (the earliest of equal ones), or undefined before a first
 * finished class. The first entry of `session_result_best_index` for (trainee, type): one index lookup.
 */
export async function personalBestOf(
  em: EntityManager,
  traineeId: string,
  type: string,
): Promise<PersonalBestClaim | undefined> {
  const [row] = await executeBound<{ session_id: string; score: number; minutes: MinuteTuple[] }>(
    em,
    `select r.session_id, r.score, r.minutes
     from session_result r
     where r.user_id = ? and r.session_type = ? and r.score is not null
     order by r.score desc, r.ended_at, r.session_id limit 1`,
    [traineeId, type],
  );
  if (row === undefined) return undefined;
  return { sid: row.session_id, score: row.score, ...bestCurve(row.minutes) };
}

/**
 * `curve[m]`: the score counted in minutes 0..m, summed exactly in hundredths from the frozen per-minute sums,
 * for at most BEST_CURVE_MAX_MINUTES minutes (`complete: false` when the best lasted longer). No curve when a
 * minute lacks its exact sum (results frozen before sums were stored): an average times a count is not exact.
 */
export function bestCurve(minutes: readonly MinuteTuple[]): { curve?: number[]; complete?: boolean } {
  if (minutes.some((m) => m[4] === undefined)) return {};
  const last = minutes.reduce((max, m) => Math.max(max, m[0]), -1);
  const length = Math.min(last + 1, BEST_CURVE_MAX_MINUTES);
  const perMinute = new Array<number>(length).fill(0);
  for (const [minute, , , , sumCenti] of minutes) if (minute < length) perMinute[minute] += sumCenti!;
  let centi = 0;
  const curve = perMinute.map((sum) => (centi += sum) / 100);
  return { curve, complete: last < BEST_CURVE_MAX_MINUTES };
}
