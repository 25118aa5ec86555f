import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** `followerId` follows `followeeId` (both trainees; never oneself). */
@Entity({ tableName: 'follow' })
export class Follow {
  @PrimaryKey({ type: 'uuid' })
  followerId!: string;

  @PrimaryKey({ type: 'uuid' })
  followeeId!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();
}
