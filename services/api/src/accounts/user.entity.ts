import { randomUUID } from 'node:crypto';
import { Entity, PrimaryKey, Property } from '@mikro-orm/core';
import type { Gender } from '@pulse/contracts';

export const Role = { TRAINEE: 'trainee', TRAINER: 'trainer' } as const;
export type Role = (typeof Role)[keyof typeof Role];

@Entity({ tableName: 'app_user' })
export class User {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  /** Stored lower-cased, so the unique index makes emails unique case-insensitively. */
  @Property({ type: 'text', unique: true })
  email!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text' })
  role!: Role;

  @Property({ type: 'double', nullable: true })
  weightKg: number | null = null;

  /** Optional (issue 16); with `gender`, shown on no board unless `showOnBoards`. */
  @Property({ type: 'smallint', nullable: true })
  birthYear: number | null = null;

  @Property({ type: 'text', nullable: true })
  gender: Gender | null = null;

  /** The trainee opted in to appear on age-band boards (their birth year and gender are never shown). */
  @Property({ type: 'boolean' })
  showOnBoards = false;

  @Property({ type: 'text', hidden: true })
  passwordHash!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();
}
