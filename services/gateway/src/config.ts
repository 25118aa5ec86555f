import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_NATS_NAMESPACE } from '@pulse/contracts';

/** The API's development secret; the gateway refuses to run with it in production. */
export const DEV_JOIN_TICKET_SECRET = 'dev-join-ticket-secret-change-me-0123456789';

const int = (min: number) => z.coerce.number().int().min(min);

const Env = z
  .object({
    NODE_ENV: z.string().default('development'),
    GATEWAY_PORT: int(0).max(65_535).default(8080),
    GATEWAY_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
    NATS_URL: z.string().url().default('nats://127.0.0.1:4222'),
    NATS_NAMESPACE: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/)
      .default(DEFAULT_NATS_NAMESPACE),
    /** Replicas of the streams this gateway creates or updates on start; must match the API's and engines'. */
    NATS_STREAM_REPLICAS: int(1).default(1),
    JOIN_TICKET_SECRET: z.string().min(32).default(DEV_JOIN_TICKET_SECRET),
    /** Sustained ratings per second per user (devices send about one a second). */
    RATING_RATE_PER_SEC: z.coerce.number().positive().default(5),
    /** Token bucket size: lets a reconnecting client resend a 2-minute backlog at once. */
    RATING_BURST: int(1).default(120),
    /** JetStream publishes in flight at once per process. */
    PUBLISH_WINDOW: int(1).default(256),
    /** Ratings waiting for a free slot in the window; beyond it a rating is refused with UNAVAILABLE. */
    PUBLISH_QUEUE_MAX: int(0).default(10_000),
    /** How long a publish waits for JetStream's ack before the client gets UNAVAILABLE. */
    PUBLISH_TIMEOUT_MS: int(100).default(5_000),
    PRESENCE_INTERVAL_MS: int(50).default(1_000),
    /** A pending rank frame is written only while the socket buffers less than this. */
    SEND_BUFFER_LOW_BYTES: int(1).default(64 * 1024),
    /** A socket buffering more than this is closed with 4429 (the client stopped reading). */
    SEND_BUFFER_MAX_BYTES: int(1).default(1024 * 1024),
    /** A client that could not take a rank frame for this long is closed with 4429. */
    SLOW_CONSUMER_MS: int(100).default(15_000),
    /** Graceful shutdown waits at most this long for in-flight publishes. */
    SHUTDOWN_TIMEOUT_MS: int(0).default(10_000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && env.JOIN_TICKET_SECRET === DEV_JOIN_TICKET_SECRET) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['JOIN_TICKET_SECRET'],
        message: 'must be set to a real secret in production',
      });
    }
    if (env.SEND_BUFFER_MAX_BYTES < env.SEND_BUFFER_LOW_BYTES) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['SEND_BUFFER_MAX_BYTES'],
        message: 'must be at least SEND_BUFFER_LOW_BYTES',
      });
    }
  });

export type GatewayConfig = Readonly<z.infer<typeof Env>>;

/** Thrown when the environment does not describe a valid gateway; the message names each variable. */
export class InvalidConfig extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid gateway configuration: ${issues.join('; ')}`);
  }
}

export function loadConfig(env: Record<string, string | undefined>): GatewayConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    throw new InvalidConfig(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  return Object.freeze(parsed.data);
}
