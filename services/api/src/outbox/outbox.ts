import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type {
  FollowSet,
  NatsNames,
  RegistrationEvent,
  RegistrationEventStatus,
  SessionEventType,
} from '@pulse/contracts';
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

/**
 * Records a trainee's registration change in the caller's transaction (see RegistrationEvent): the
 * gateway reads the last one of the trainee's subject to refuse tickets of an unregistered trainee.
 */
export function recordRegistrationEvent(
  tx: EntityManager,
  sessionId: string,
  userId: string,
  status: RegistrationEventStatus,
): OutboxEvent {
  const row = new OutboxEvent();
  row.id = randomUUID();
  row.sessionId = sessionId;
  row.userId = userId;
  row.type = 'registration';
  row.createdAt = new Date();
  row.payload = {
    kind: 'registration',
    sessionId,
    userId,
    status,
    at: row.createdAt.toISOString(),
  } satisfies RegistrationEvent;
  tx.persist(row);
  return row;
}

/**
 * Records whom a trainee follows now, in the caller's transaction (the whole set: the last value is the
 * truth); published to the trainee's key of the follows KV bucket, which gateways watch (issue 16).
 */
export function recordFollowSet(tx: EntityManager, followerId: string, set: FollowSet): OutboxEvent {
  const row = new OutboxEvent();
  row.id = randomUUID();
  row.userId = followerId;
  row.type = 'follows';
  row.createdAt = new Date();
  row.payload = set;
  tx.persist(row);
  return row;
}

/**
 * The subject a row is published on: the session's lifecycle subject, the trainee's registration one, or the
 * follower's key of the follows KV bucket (a KV put is a publish on `$KV.<bucket>.<key>`).
 */
export function outboxSubject(names: NatsNames, row: OutboxEvent): string {
  if (row.type === 'follows') return `$KV.${names.followsBucket}.${row.userId}`;
  return row.type === 'registration' && row.userId !== null
    ? names.registrationEvent(row.sessionId!, row.userId)
    : names.sessionEvent(row.sessionId!);
}

/** Lets services wake the publisher right after a commit instead of waiting for its next poll. */
export interface OutboxSignal {
  kick(): void;
}
