import type { MikroORM } from '@mikro-orm/postgresql';
import { queryPrepared, type PreparedStatement } from '../db/prepared.js';
import { COLUMNS, COUNTS, iso, rowView, type SessionRow } from './session-reads.js';
import type { SessionView } from './session-view.js';
import { SessionTransition } from './state-machine.js';

/** The column each transition stamps with its time. */
const STAMP_COLUMN: Record<SessionTransition, string> = {
  start: 'started_at',
  end: 'ended_at',
  cancel: 'cancelled_at',
};

/** SessionEvent.session (contracts) built from the updated row `c`, as sessionSnapshot builds it from an entity. */
const SNAPSHOT = `json_build_object(
  'id', c.id, 'trainerId', c.trainer_id, 'title', c.title, 'type', c.type, 'status', c.status,
  'startsAt', ${iso('c.starts_at')}, 'durationMinutes', c.duration_minutes, 'capacity', c.capacity,
  'startedAt', ${iso('c.started_at')}, 'endedAt', ${iso('c.ended_at')}, 'cancelledAt', ${iso('c.cancelled_at')})`;

/**
 * $1 session, $2 trainer, $3 at, $4 event id. The UPDATE's WHERE is the whole check (the row exists, the
 * caller owns it, it is in the transition's `from` state); PostgreSQL takes the row's lock and re-checks the
 * WHERE against a concurrent commit, so of two concurrent transitions one changes the row and the other none.
 * The outbox row is built from the updated row in the same statement: they commit together or not at all.
 */
const statement = (transition: SessionTransition): PreparedStatement => {
  const { from, to, event } = SessionTransition[transition];
  return {
    name: `session_transition_${transition}`,
    text: `with changed as (
        update workout_session s set status = '${to}', ${STAMP_COLUMN[transition]} = $3::timestamptz,
          version = s.version + 1
        where s.id = $1::uuid and s.trainer_id = $2::uuid and s.status = '${from}'
        returning s.*
      ), recorded as (
        insert into outbox_event (id, session_id, type, payload, created_at)
        select $4::uuid, c.id, '${event}', json_build_object('eventId', $4::uuid, 'type', '${event}',
          'at', ${iso('$3::timestamptz')}, 'session', ${SNAPSHOT})::jsonb, $3::timestamptz
        from changed c
      )
      select ${COLUMNS} from changed s ${COUNTS}`,
  };
};
const STATEMENTS = Object.fromEntries(
  Object.keys(SessionTransition).map((t) => [t, statement(t as SessionTransition)]),
) as Record<SessionTransition, PreparedStatement>;

/**
 * Applies `transition` to the session if `trainerId` owns it and it is in the transition's `from` state, records
 * its lifecycle event in the outbox, and answers the session as it is now; null when nothing changed (the caller
 * finds out why). One statement, so one round trip and its own transaction: 500 classes started or ended on the
 * hour were six round trips each (BEGIN, SELECT … FOR UPDATE, UPDATE, INSERT, COMMIT, the counts) on a pool of
 * ten connections.
 */
export async function transitionSession(
  orm: MikroORM,
  transition: SessionTransition,
  change: { id: string; trainerId: string; at: Date; eventId: string },
): Promise<SessionView | null> {
  const rows = await queryPrepared<SessionRow>(orm, STATEMENTS[transition], [
    change.id,
    change.trainerId,
    change.at.toISOString(),
    change.eventId,
  ]);
  return rows[0] === undefined ? null : rowView(rows[0]);
}

/** What a session is now, to say why a transition changed nothing (null: there is no such session). */
export async function sessionOwnerAndStatus(
  orm: MikroORM,
  id: string,
): Promise<{ trainerId: string; status: SessionRow['status'] } | null> {
  const rows = await queryPrepared<{ trainer_id: string; status: SessionRow['status'] }>(
    orm,
    {
      name: 'session_owner_status',
      text: 'select trainer_id, status from workout_session where id = $1::uuid',
    },
    [id],
  );
  return rows[0] === undefined ? null : { trainerId: rows[0].trainer_id, status: rows[0].status };
}
