import type { MikroORM } from '@mikro-orm/postgresql';
import type { SessionStatus } from '@pulse/contracts';
import type { RegistrationStatus } from '../registrations/registration.entity.js';
import type { RegistrationView } from '../registrations/registration-view.js';
import type { SessionView } from './session-view.js';

/**
 * The hot read paths (list, detail) as one SQL statement each, answered as plain objects: no entity
 * hydration, no identity map (not even an `em.fork()`), no second round trip for the counts. Writes
 * stay on the entities.
 */

/** `Date.prototype.toISOString()` in SQL (millisecond precision, `Z`), so rows need no Date parsing. */
export const iso = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export const COLUMNS = `s.id, s.trainer_id, s.title, s.description, s.type, s.status, s.duration_minutes, s.capacity,
  ${iso('s.starts_at')} as starts_at, ${iso('s.started_at')} as started_at, ${iso('s.ended_at')} as ended_at,
  ${iso('s.cancelled_at')} as cancelled_at, ${iso('s.created_at')} as created_at,
  c.registered, c.waitlisted`;

/** Uses registration (session_id, status, queued_at): an index-only count per session. */
export const COUNTS = `left join lateral (
    select count(*) filter (where r.status = 'registered')::int as registered,
           count(*) filter (where r.status = 'waitlisted')::int as waitlisted
    from registration r where r.session_id = s.id
  ) c on true`;

export interface SessionRow {
  id: string;
  trainer_id: string;
  title: string;
  description: string | null;
  type: string;
  status: SessionStatus;
  duration_minutes: number;
  capacity: number;
  starts_at: string;
  started_at: string | null;
  ended_at: string | null;
  cancelled_at: string | null;
  created_at: string;
  registered: number;
  waitlisted: number;
}

export const rowView = (r: SessionRow): SessionView => ({
  id: r.id,
  trainerId: r.trainer_id,
  title: r.title,
  type: r.type,
  status: r.status,
  startsAt: r.starts_at,
  durationMinutes: r.duration_minutes,
  capacity: r.capacity,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  cancelledAt: r.cancelled_at,
  description: r.description,
  registeredCount: r.registered,
  waitlistedCount: r.waitlisted,
  createdAt: r.created_at,
});

export interface ListWhere {
  status?: SessionStatus;
  from?: string;
  to?: string;
  type?: string;
  trainerId?: string;
  after?: { startsAt: string; id: string };
  limit: number;
}

/**
 * Soonest first, keyset on (starts_at, id). The default filter (scheduled or live) is spelled as a
 * literal so that it matches the partial index `workout_session_upcoming_index (starts_at, id)`: an
 * ordered index scan that stops after `limit` rows instead of sorting every upcoming session.
 */
export async function listSessions(orm: MikroORM, where: ListWhere): Promise<SessionView[]> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (where.status === undefined) conditions.push(`s.status in ('scheduled', 'live')`);
  else {
    conditions.push('s.status = ?');
    params.push(where.status);
  }
  if (where.from !== undefined) {
    conditions.push('s.starts_at >= ?::timestamptz');
    params.push(where.from);
  }
  if (where.to !== undefined) {
    conditions.push('s.starts_at <= ?::timestamptz');
    params.push(where.to);
  }
  if (where.type !== undefined) {
    conditions.push('s.type = ?');
    params.push(where.type);
  }
  if (where.trainerId !== undefined) {
    conditions.push('s.trainer_id = ?::uuid');
    params.push(where.trainerId);
  }
  if (where.after !== undefined) {
    conditions.push('(s.starts_at, s.id) > (?::timestamptz, ?::uuid)');
    params.push(where.after.startsAt, where.after.id);
  }
  params.push(where.limit);
  const rows: SessionRow[] = await orm.em.getConnection().execute(
    `select ${COLUMNS}
     from (select * from workout_session s where ${conditions.join(' and ')}
           order by s.starts_at, s.id limit ?) s
     ${COUNTS}
     order by s.starts_at, s.id`,
    params,
  );
  return rows.map(rowView);
}

interface DetailRow extends SessionRow {
  r_id: string | null;
  r_status: RegistrationStatus | null;
  r_queued_at: string | null;
  r_joined_at: string | null;
}

/** One session with its counts and `traineeId`'s registration (or null), in one statement. */
export async function sessionDetail(
  orm: MikroORM,
  id: string,
  traineeId: string,
): Promise<(SessionView & { registration: RegistrationView | null }) | null> {
  const rows: DetailRow[] = await orm.em.getConnection().execute(
    `select ${COLUMNS}, m.id as r_id, m.status as r_status,
       ${iso('m.queued_at')} as r_queued_at, ${iso('m.joined_at')} as r_joined_at
     from workout_session s
     ${COUNTS}
     left join registration m on m.session_id = s.id and m.trainee_id = ?::uuid
     where s.id = ?::uuid`,
    [traineeId, id],
  );
  const row = rows[0];
  if (row === undefined) return null;
  const registration: RegistrationView | null =
    row.r_id === null
      ? null
      : {
          id: row.r_id,
          sessionId: row.id,
          status: row.r_status!,
          queuedAt: row.r_queued_at!,
          joinedAt: row.r_joined_at,
        };
  return { ...rowView(row), registration };
}
