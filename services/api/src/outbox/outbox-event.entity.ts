import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import type { FollowSet, RegistrationEvent, SessionEvent, SessionEventType } from '@pulse/contracts';

/**
 * What an outbox row announces: a session's lifecycle change, a trainee's registration change, or whom a
 * trainee follows now (`follows`, written to the follows KV bucket).
 */
export type OutboxEventType = SessionEventType | 'registration' | 'follows';

/** An event written in the same transaction as the change it describes, published after commit. */
@Entity({ tableName: 'outbox_event' })
@Index({ properties: ['publishedAt', 'createdAt'] })
export class OutboxEvent {
  /** Also the event's `eventId` and its JetStream msgID, so a retried publish is deduplicated. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  /** The session of a lifecycle or registration event; null for `follows`. */
  @Property({ type: 'uuid', nullable: true })
  sessionId: string | null = null;

  /** The trainee of a `registration` or `follows` event; null for lifecycle events. */
  @Property({ type: 'uuid', nullable: true })
  userId: string | null = null;

  @Property({ type: 'text' })
  type!: OutboxEventType;

  @Property({ type: 'json' })
  payload!: SessionEvent | RegistrationEvent | FollowSet;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  publishedAt: Date | null = null;

  @Property({ type: 'integer' })
  attempts: number = 0;
}
