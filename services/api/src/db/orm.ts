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
import { Migration20261125000000_initial } from './migrations/Migration20261125000000_initial.js';
import { Migration20261210000000_upcoming_index } from './migrations/Migration20261210000000_upcoming_index.js';

export const ENTITIES = [User, RefreshToken, WorkoutSession, Registration, Feedback, OutboxEvent];
/** Every migration, in order. Listed explicitly so the compiled service needs no file globbing. */
export const MIGRATIONS = [
  { name: 'Migration20261125000000_initial', class: Migration20261125000000_initial },
  { name: 'Migration20261210000000_upcoming_index', class: Migration20261210000000_upcoming_index },
];

export interface DatabaseOptions {
  url: string;
  schema: string;
  poolMax: number;
  logger?: Logger;
  /**
   * Apply pending migrations (default true). Production runs them once, as the ordered migrate Job before a
   * rollout, and starts API pods with MIGRATE_ON_START=false so replicas never race on them (issue 14).
   */
  migrate?: boolean;
}

/** Connects, creates the schema when missing and applies pending migrations (never schema:update). */
export async function openDatabase(options: DatabaseOptions): Promise<MikroORM> {
  const searchPath = `SET search_path TO "${options.schema}"`;
  const orm = await MikroORM.init({
    clientUrl: options.url,
    schema: options.schema,
    entities: ENTITIES,
    metadataProvider: ReflectMetadataProvider,
    discovery: { disableDynamicFileAccess: true },
    extensions: [Migrator],
    migrations: { migrationsList: MIGRATIONS, transactional: true, allOrNothing: true, snapshot: false },
    pool: {
      min: 0,
      max: options.poolMax,
      afterCreate: (
        conn: { query(sql: string, cb: (err: unknown) => void): void },
        done: (err: unknown) => void,
      ) => conn.query(searchPath, done),
    },
    // A request must not wait forever for a pool slot when PostgreSQL is gone.
    driverOptions: { acquireConnectionTimeout: 5_000 },
    allowGlobalContext: false,
    debug: false,
    logger: (message) => options.logger?.debug({ orm: true }, message),
  });
  if (options.migrate === false) return orm;
  await orm.em.getConnection().execute(`create schema if not exists "${options.schema}"`);
  await orm.getMigrator().up();
  return orm;
}
