import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { SessionEventType } from '@pulse/contracts';
import type { WorkoutSession } from '../sessions/session.entity.js';
import { sessionSnapshot } from '../sessions/session-view.js';
import { OutboxEvent } from './outbox-event.entity.js';

/**
 * Records a lifecycle event in the caller's transaction: it commits (or rolls back) together with the
 * state change it describes. The snapshot is taken from the entity as it will be committed.
 */
export function recordSessionEvent(
  tx: EntityManager,
  session: WorkoutSession,
  type: SessionEventType,
): OutboxEvent {
  const row = new OutboxEvent();
  row.id = randomUUID();
  row.sessionId = session.id;
  row.type = type;
  row.createdAt = new Date();
  row.payload = { eventId: row.id, type, at: row.createdAt.toISOString(), session: sessionSnapshot(session) };
  tx.persist(row);
  return row;
}

/** Lets services wake the publisher right after a commit instead of waiting for its next poll. */
export interface OutboxSignal {
  kick(): void;
}
