import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CLICKHOUSE_DB_PATTERN } from '@pulse/contracts';
import {
  DEV_ACCESS_SECRET,
  DEV_JOIN_TICKET_SECRET,
  clientAddressEnv,
  joinTicketEnv,
  loadServiceConfig,
  portVar,
  type ServiceEnv,
} from '@pulse/runtime';
import { DEFAULT_SESSION_LIST_CACHE_MS } from './sessions/session-list-cache.js';

const port = portVar;
const positiveInt = z.coerce.number().int().positive();
const schemaName = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier');

/** The reference web app's build (`web/dist/app` of this repository), served at /app/. */
const DEFAULT_WEB_APP_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../web/dist/app',
);

const ApiEnv = {
  ...joinTicketEnv,
  ...clientAddressEnv,
  API_PORT: port.default(3000),
  /**
   * Connections the kernel holds for the API to accept (listen backlog, capped by net.core.somaxconn). At the end
   * of a class every app asks for its results at once; with Node's 511 an overflow drops handshakes, which come
   * back only after a retransmission (1 s, then 3 s).
   */
  API_LISTEN_BACKLOG: positiveInt.default(4096),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/pulse'),
  DATABASE_SCHEMA: schemaName.default('public'),
  DATABASE_POOL_MAX: positiveInt.default(10),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: z.string().default('pulse:api:'),
  CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  CLICKHOUSE_DB: z.string().regex(CLICKHOUSE_DB_PATTERN).default('pulse'),
  /** Production: the cluster whose replicas each hold every table (ON CLUSTER, Replicated*MergeTree). */
  CLICKHOUSE_CLUSTER: z.union([z.literal(''), z.string().regex(CLICKHOUSE_DB_PATTERN)]).default(''),
  JWT_ACCESS_SECRET: z.string().min(1).default(DEV_ACCESS_SECRET),
  ACCESS_TOKEN_TTL_SEC: positiveInt.default(900),
  REFRESH_TOKEN_TTL_SEC: positiveInt.default(2_592_000),
  JOIN_TICKET_TTL_SEC: positiveInt.default(600),
  GATEWAY_PUBLIC_URL: z.string().url().default('ws://127.0.0.1:8080/v1/live'),
  /** Directory of the built web app served at /app/; empty serves none. */
  WEB_APP_DIR: z.string().default(DEFAULT_WEB_APP_DIR),
  BODY_LIMIT_BYTES: positiveInt.default(64 * 1024),
  REQUEST_TIMEOUT_MS: positiveInt.default(10_000),
  LOGIN_MAX_PER_ACCOUNT: positiveInt.default(5),
  LOGIN_ACCOUNT_WINDOW_SEC: positiveInt.default(900),
  LOGIN_MAX_PER_IP: positiveInt.default(50),
  LOGIN_IP_WINDOW_SEC: positiveInt.default(900),
  OUTBOX_POLL_MS: positiveInt.default(1000),
  /** Published outbox rows older than this are deleted (JetStream deduplicates for far less). */
  OUTBOX_RETENTION_HOURS: positiveInt.default(24),
  SHUTDOWN_GRACE_MS: positiveInt.default(10_000),
  /** Apply pending migrations at start (production: false; the migrate Job runs them as step 1). */
  MIGRATE_ON_START: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),

  // --- Front door (issue 11): client address behind proxies, auth limits, timeouts. ---
  /** Slow backstop over every client address: failed logins of one account per window. */
  LOGIN_MAX_PER_ACCOUNT_GLOBAL: positiveInt.default(100),
  LOGIN_ACCOUNT_GLOBAL_WINDOW_SEC: positiveInt.default(86_400),
  /** An address that logged in to an account is exempt from that account's backstop for this long. */
  LOGIN_KNOWN_ADDRESS_TTL_SEC: positiveInt.default(2_592_000),
  /** Registrations (each a full argon2id hash) per client address per window. */
  REGISTER_MAX_PER_IP: positiveInt.default(60),
  REGISTER_IP_WINDOW_SEC: positiveInt.default(600),
  /** PostgreSQL `statement_timeout` of the API's connections (migrations run without it). */
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt.default(5000),

  // --- Read paths (issue 13). ---
  /** Longest a session list page is served from memory after another replica changed it; 0: no cache. */
  SESSION_LIST_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(DEFAULT_SESSION_LIST_CACHE_MS),
};

const apiEnv: ServiceEnv<typeof ApiEnv> = {
  service: 'api',
  shape: ApiEnv,
  secrets: [
    ['JWT_ACCESS_SECRET', DEV_ACCESS_SECRET],
    ['JOIN_TICKET_SECRET', DEV_JOIN_TICKET_SECRET],
  ],
  check: (env) =>
    env.NODE_ENV === 'production' && env.JWT_ACCESS_SECRET === env.JOIN_TICKET_SECRET
      ? [{ variable: 'JOIN_TICKET_SECRET', message: 'must differ from JWT_ACCESS_SECRET' }]
      : [],
};

export type Config = ReturnType<typeof loadConfig>;

/** Parses the environment once; throws InvalidConfig (from @pulse/runtime) naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>) {
  return loadServiceConfig(apiEnv, env);
}
