import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import type { SessionEvent, SessionEventType } from '@pulse/contracts';

/** A lifecycle event written in the same transaction as the state change, published after commit. */
@Entity({ tableName: 'outbox_event' })
@Index({ properties: ['publishedAt', 'createdAt'] })
export class OutboxEvent {
  /** Also the event's `eventId` and its JetStream msgID, so a retried publish is deduplicated. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  sessionId!: string;

  @Property({ type: 'text' })
  type!: SessionEventType;

  @Property({ type: 'json' })
  payload!: SessionEvent;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  publishedAt: Date | null = null;

  @Property({ type: 'integer' })
  attempts: number = 0;
}
