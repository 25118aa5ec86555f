import { randomUUID } from 'node:crypto';
import { Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/core';

export const RegistrationStatus = {
  REGISTERED: 'registered',
  WAITLISTED: 'waitlisted',
  CANCELLED: 'cancelled',
} as const;
export type RegistrationStatus = (typeof RegistrationStatus)[keyof typeof RegistrationStatus];

@Entity({ tableName: 'registration' })
@Unique({ properties: ['sessionId', 'traineeId'] })
@Index({ properties: ['sessionId', 'status', 'queuedAt'] })
@Index({ properties: ['traineeId', 'joinedAt'] })
export class Registration {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'uuid' })
  sessionId!: string;

  @Property({ type: 'uuid' })
  traineeId!: string;

  @Property({ type: 'text' })
  status!: RegistrationStatus;

  /** When the trainee (re-)entered the queue: the waitlist is promoted in this order. */
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  queuedAt: Date = new Date();

  /** First successful join; "joined" is what feedback and history rely on. */
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  joinedAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();
}
