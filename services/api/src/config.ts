import { z } from 'zod';

/** Development-only secrets: usable locally, refused when NODE_ENV=production. */
export const DEV_ACCESS_SECRET = 'dev-only-pulse-access-secret-do-not-use-in-production';
export const DEV_JOIN_TICKET_SECRET = 'dev-only-pulse-join-ticket-secret-do-not-use-in-production';
/** HS256 needs at least 256 bits of key; shorter secrets are refused in production. */
export const MIN_SECRET_LENGTH = 32;

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const schemaName = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier');

const Env = z.object({
  NODE_ENV: z.string().default('development'),
  API_PORT: port.default(3000),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/pulse'),
  DATABASE_SCHEMA: schemaName.default('public'),
  DATABASE_POOL_MAX: positiveInt.default(10),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  REDIS_KEY_PREFIX: z.string().default('pulse:api:'),
  NATS_URL: z.string().url().default('nats://127.0.0.1:4222'),
  NATS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/)
    .default('pulse'),
  NATS_STREAM_REPLICAS: positiveInt.default(1),
  CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  CLICKHOUSE_DB: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/)
    .default('pulse'),
  JWT_ACCESS_SECRET: z.string().min(1).default(DEV_ACCESS_SECRET),
  JOIN_TICKET_SECRET: z.string().min(1).default(DEV_JOIN_TICKET_SECRET),
  ACCESS_TOKEN_TTL_SEC: positiveInt.default(900),
  REFRESH_TOKEN_TTL_SEC: positiveInt.default(2_592_000),
  JOIN_TICKET_TTL_SEC: positiveInt.default(600),
  GATEWAY_PUBLIC_URL: z.string().url().default('ws://127.0.0.1:8080/v1/live'),
  BODY_LIMIT_BYTES: positiveInt.default(64 * 1024),
  REQUEST_TIMEOUT_MS: positiveInt.default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOGIN_MAX_PER_ACCOUNT: positiveInt.default(5),
  LOGIN_ACCOUNT_WINDOW_SEC: positiveInt.default(900),
  LOGIN_MAX_PER_IP: positiveInt.default(50),
  LOGIN_IP_WINDOW_SEC: positiveInt.default(900),
  OUTBOX_POLL_MS: positiveInt.default(1000),
  /** Published outbox rows older than this are deleted (JetStream deduplicates for far less). */
  OUTBOX_RETENTION_HOURS: positiveInt.default(24),
  SHUTDOWN_GRACE_MS: positiveInt.default(10_000),
});
export type Config = Readonly<z.infer<typeof Env>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

function productionProblems(config: Config): string[] {
  if (config.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  const secrets = [
    ['JWT_ACCESS_SECRET', config.JWT_ACCESS_SECRET, DEV_ACCESS_SECRET],
    ['JOIN_TICKET_SECRET', config.JOIN_TICKET_SECRET, DEV_JOIN_TICKET_SECRET],
  ] as const;
  for (const [name, value, devDefault] of secrets) {
    if (value === devDefault) problems.push(`${name}: the development default is refused in production`);
    else if (value.length < MIN_SECRET_LENGTH) {
      problems.push(`${name}: must be at least ${MIN_SECRET_LENGTH} characters in production`);
    }
  }
  if (config.JWT_ACCESS_SECRET === config.JOIN_TICKET_SECRET) {
    problems.push('JOIN_TICKET_SECRET: must differ from JWT_ACCESS_SECRET');
  }
  return problems;
}

/** Parses the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const problems = productionProblems(parsed.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(parsed.data);
}
