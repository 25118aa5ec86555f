import { hostname } from 'node:os';
import { z } from 'zod';
import { CLICKHOUSE_DB_PATTERN, DEFAULT_NATS_NAMESPACE } from '@pulse/contracts';

export const DEFAULT_ENGINE_PORT = 8090;
export const DEFAULT_RANK_TICK_MS = 100;
export const DEFAULT_MINUTE_MS = 60_000;
export const DEFAULT_RESULTS_FLUSH_MS = 5_000;
export const DEFAULT_CH_BATCH_MAX_ROWS = 10_000;
export const DEFAULT_CH_FLUSH_MS = 500;
/** How long JetStream waits for an ack before redelivering; after a crash this bounds the wait for redelivery. */
export const DEFAULT_ACK_WAIT_MS = 15_000;

/** A membership or lease key lives this long without renewal; renewals run every quarter of it. */
export const DEFAULT_ENGINE_LEASE_TTL_MS = 10_000;

const positiveInt = z.coerce.number().int().positive();

const Env = z.object({
  ENGINE_PORT: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_ENGINE_PORT),
  NATS_URL: z.string().url().default('nats://127.0.0.1:4222'),
  NATS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/)
    .default(DEFAULT_NATS_NAMESPACE),
  /** Replicas of the streams this engine creates or updates on start; must match the API's and gateways'. */
  NATS_STREAM_REPLICAS: positiveInt.default(1),
  CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  CLICKHOUSE_DB: z.string().regex(CLICKHOUSE_DB_PATTERN).default('pulse'),
  RANK_TICK_MS: positiveInt.default(DEFAULT_RANK_TICK_MS),
  MINUTE_MS: positiveInt.default(DEFAULT_MINUTE_MS),
  RESULTS_FLUSH_MS: positiveInt.default(DEFAULT_RESULTS_FLUSH_MS),
  CH_BATCH_MAX_ROWS: positiveInt.default(DEFAULT_CH_BATCH_MAX_ROWS),
  CH_FLUSH_MS: positiveInt.default(DEFAULT_CH_FLUSH_MS),
  ACK_WAIT_MS: z.coerce.number().int().min(1_000).default(DEFAULT_ACK_WAIT_MS),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ENGINE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_=-][A-Za-z0-9_=.-]*$/, 'letters, digits, _ = - and . (a KV key token)')
    .default(hostname()),
  /** `leases`: share sessions with other replicas through JetStream KV; `all`: run every session alone. */
  ENGINE_OWNERSHIP: z.enum(['leases', 'all']).default('leases'),
  ENGINE_LEASE_TTL_MS: z.coerce.number().int().min(400).default(DEFAULT_ENGINE_LEASE_TTL_MS),
});

export type EngineConfig = Readonly<z.infer<typeof Env>>;

/** Thrown when an environment variable has a bad value; the message names the variable. */
export class InvalidConfig extends Error {
  constructor(
    readonly variables: string[],
    message: string,
  ) {
    super(message);
    this.name = 'InvalidConfig';
  }
}

/** Parses the engine's settings once; a bad value throws {@link InvalidConfig} naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): EngineConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new InvalidConfig(
      parsed.error.issues.map((i) => String(i.path[0])),
      `invalid configuration: ${issues.join('; ')}`,
    );
  }
  return Object.freeze(parsed.data);
}
