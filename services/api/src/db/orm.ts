import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { ReflectMetadataProvider } from '@mikro-orm/core';
import type { Logger } from 'pino';
import { User } from '../accounts/user.entity.js';
import { RefreshToken } from '../accounts/refresh-token.entity.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { Registration } from '../registrations/registration.entity.js';
import { Feedback } from '../feedback/feedback.entity.js';
import { OutboxEvent } from '../outbox/outbox-event.entity.js';
import { Follow } from '../social/follow.entity.js';
import { Migration20261125000000_initial } from './migrations/Migration20261125000000_initial.js';
import { Migration20261210000000_upcoming_index } from './migrations/Migration20261210000000_upcoming_index.js';
import { Migration20261230000000_feedback_keyset } from './migrations/Migration20261230000000_feedback_keyset.js';
import { Migration20261230000100_outbox_registration_events } from './migrations/Migration20261230000100_outbox_registration_events.js';
import { Migration20261231000000_frozen_results } from './migrations/Migration20261231000000_frozen_results.js';
import { Migration20261231000100_profiles_follows } from './migrations/Migration20261231000100_profiles_follows.js';
import { Migration20261231000200_outbox_follows } from './migrations/Migration20261231000200_outbox_follows.js';
import { Migration20261231000300_personal_boards_results } from './migrations/Migration20261231000300_personal_boards_results.js';
import { Migration20261231000400_personal_best_index } from './migrations/Migration20261231000400_personal_best_index.js';
import { Migration20261231000500_result_minutes_json } from './migrations/Migration20261231000500_result_minutes_json.js';

export const ENTITIES = [User, RefreshToken, WorkoutSession, Registration, Feedback, OutboxEvent, Follow];
/** Every migration, in order. Listed explicitly so the compiled service needs no file globbing. */
export const MIGRATIONS = [
  { name: 'Migration20261125000000_initial', class: Migration20261125000000_initial },
  { name: 'Migration20261210000000_upcoming_index', class: Migration20261210000000_upcoming_index },
  { name: 'Migration20261230000000_feedback_keyset', class: Migration20261230000000_feedback_keyset },
  {
    name: 'Migration20261230000100_outbox_registration_events',
    class: Migration20261230000100_outbox_registration_events,
  },
  { name: 'Migration20261231000000_frozen_results', class: Migration20261231000000_frozen_results },
  { name: 'Migration20261231000100_profiles_follows', class: Migration20261231000100_profiles_follows },
  { name: 'Migration20261231000200_outbox_follows', class: Migration20261231000200_outbox_follows },
  {
    name: 'Migration20261231000300_personal_boards_results',
    class: Migration20261231000300_personal_boards_results,
  },
  { name: 'Migration20261231000400_personal_best_index', class: Migration20261231000400_personal_best_index },
  { name: 'Migration20261231000500_result_minutes_json', class: Migration20261231000500_result_minutes_json },
];

export interface DatabaseOptions {
  url: string;
  schema: string;
  poolMax: number;
  /** PostgreSQL `statement_timeout` of every pooled connection; 0 or absent: none. */
  statementTimeoutMs?: number;
  logger?: Logger;
  /**
   * Apply pending migrations (default true). Production runs them once, as the ordered migrate Job before a
   * rollout, and starts API pods with MIGRATE_ON_START=false so replicas never race on them (issue 14).
   */
  migrate?: boolean;
}

type PgConnection = { query(sql: string, cb: (err: unknown) => void): void };

function ormOptions(options: DatabaseOptions, poolMax: number, statementTimeoutMs: number) {
  // Integers only (the config schema guarantees it), so the SET needs no quoting.
  const setup = `SET search_path TO "${options.schema}"; SET statement_timeout = ${Math.trunc(statementTimeoutMs)}`;
  return {
    clientUrl: options.url,
    schema: options.schema,
    entities: ENTITIES,
    metadataProvider: ReflectMetadataProvider,
    discovery: { disableDynamicFileAccess: true },
    extensions: [Migrator],
    migrations: { migrationsList: MIGRATIONS, transactional: true, allOrNothing: true, snapshot: false },
    pool: {
      min: 0,
      max: poolMax,
      afterCreate: (conn: PgConnection, done: (err: unknown) => void) => conn.query(setup, done),
    },
    // A request must not wait forever for a pool slot when PostgreSQL is gone.
    driverOptions: { acquireConnectionTimeout: 5_000 },
    allowGlobalContext: false,
    // Never `debug`: query logs carry the bound values (emails, hashes). Only MikroORM's own notices.
    debug: false,
    logger: (message: string) => options.logger?.debug({ orm: true }, message),
  };
}

/**
 * Connects, creates the schema when missing and applies pending migrations (never schema:update).
 * Migrations run on their own short-lived connection without the statement timeout, so building an
 * index on a large table is not cancelled; the returned ORM's connections carry the timeout.
 */
export async function openDatabase(options: DatabaseOptions): Promise<MikroORM> {
  if (options.migrate !== false) await migrate(options);
  return MikroORM.init(ormOptions(options, options.poolMax, options.statementTimeoutMs ?? 0));
}

async function migrate(options: DatabaseOptions): Promise<void> {
  const migrating = await MikroORM.init(ormOptions(options, 1, 0));
  try {
    await migrating.em.getConnection().execute(`create schema if not exists "${options.schema}"`);
    await migrating.getMigrator().up();
  } finally {
    await migrating.close(true);
  }
}
