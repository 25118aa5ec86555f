import { z } from 'zod';
import { DEFAULT_NATS_NAMESPACE } from '@pulse/contracts';
import { DEFAULT_ADDRESS_LIMIT_EXEMPT, isAddressList, isTrustProxy } from './addresses.js';

/**
 * Development-only secrets. They live here once: two copies (one per service) once made every join on a
 * default stack fail with 4401 (issue 11). Usable locally; refused when NODE_ENV=production.
 */
export const DEV_ACCESS_SECRET = 'dev-only-pulse-access-secret-do-not-use-in-production';
export const DEV_JOIN_TICKET_SECRET = 'dev-only-pulse-join-ticket-secret-do-not-use-in-production';
/** HS256 needs at least 256 bits of key; shorter secrets are refused in production. */
export const MIN_SECRET_LENGTH = 32;

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** An integer environment variable of at least `min`. */
export const intVar = (min: number) => z.coerce.number().int().min(min);
export const portVar = intVar(0).max(65_535);

/** What every service reads alike: environment kind, logging, and how it reaches NATS. */
export const sharedEnv = {
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  NATS_URL: z.string().url().default(DEFAULT_NATS_URL),
  NATS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - (1 to 32)')
    .default(DEFAULT_NATS_NAMESPACE),
  /** Replicas of the streams and KV buckets a service creates or updates on start (3 in production). */
  NATS_STREAM_REPLICAS: intVar(1).max(5).default(1),
  /**
   * Limits of the ratings stream: long enough to replay any live session, bounded in bytes (discard old).
   * JetStream reserves every stream's max_bytes against the server's store when the stream is created, so
   * the defaults are a development machine's: 2 GiB holds ~30 million batched ratings (~70 bytes each,
   * 50 10k-participant-minutes) and lets dozens of stacks and test namespaces share one local server.
   * Production sizes it from its volumes (k8s/README.md, JetStream sizing).
   */
  NATS_RATINGS_MAX_AGE_SEC: intVar(60).default(24 * 3_600),
  NATS_RATINGS_MAX_BYTES: intVar(1_048_576).default(2 * 1024 ** 3),
  /** Limits of the session-events stream (a few messages per session; the last one is a session's state). */
  NATS_EVENTS_MAX_AGE_SEC: intVar(60).default(90 * 24 * 3_600),
  NATS_EVENTS_MAX_BYTES: intVar(1_048_576).default(256 * 1024 ** 2),
  /** Byte limit of the follows KV bucket (one value per trainee who follows anyone, up to ~60 KB each). */
  NATS_FOLLOWS_KV_MAX_BYTES: intVar(1_048_576).default(256 * 1024 ** 2),
  /** NATS credentials; required in production, where each service may only use its own subjects. */
  NATS_USER: z.string().default(''),
  NATS_PASSWORD: z.string().default(''),
};

/**
 * Who the client is, for per-address limits: which proxies may name it (TRUST_PROXY; 1 behind the shipped
 * ingress) and which addresses no such limit applies to (see DEFAULT_ADDRESS_LIMIT_EXEMPT).
 */
export const clientAddressEnv = {
  TRUST_PROXY: z
    .string()
    .trim()
    .default('')
    .refine(isTrustProxy, 'must be empty, false, a number of hops or a comma list of addresses / CIDRs'),
  ADDRESS_LIMIT_EXEMPT: z
    .string()
    .default(DEFAULT_ADDRESS_LIMIT_EXEMPT)
    .refine(
      isAddressList,
      'a comma list of addresses, CIDRs or range names (loopback, linklocal, uniquelocal)',
    ),
};

/** The join-ticket secret: signed by the API, verified by every gateway. */
export const joinTicketEnv = {
  JOIN_TICKET_SECRET: z.string().min(1).default(DEV_JOIN_TICKET_SECRET),
};

/** One minute of a session as the engine buckets it (60 s; compressed in tests). */
export const DEFAULT_MINUTE_MS = 60_000;

/**
 * The length of a per-minute bucket: the engine buckets ratings by it and the gateways read a personal best's
 * per-minute curve by it (issue 16), so both must agree; defined once here and composed by both.
 */
export const minuteEnv = {
  MINUTE_MS: intVar(1).default(DEFAULT_MINUTE_MS),
};

export type SharedConfig = z.infer<z.ZodObject<typeof sharedEnv>>;

export interface ConfigIssue {
  variable: string;
  message: string;
}

/** The environment does not describe a valid service; names every bad variable. */
export class InvalidConfig extends Error {
  readonly variables: string[];
  constructor(
    readonly service: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`invalid ${service} configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
    this.name = 'InvalidConfig';
    this.variables = issues.map((i) => i.variable);
  }
}

/** Secrets that must be real in production: [variable, development default]. */
export type SecretRule = readonly [variable: string, devDefault: string];

/** Problems that only count in production: development secrets, short secrets, NATS without credentials. */
export function productionIssues(
  config: SharedConfig & Record<string, unknown>,
  secrets: readonly SecretRule[],
): ConfigIssue[] {
  if (config.NODE_ENV !== 'production') return [];
  const issues: ConfigIssue[] = [];
  for (const [variable, devDefault] of secrets) {
    const value = String(config[variable] ?? '');
    if (value === devDefault) {
      issues.push({ variable, message: 'the development default is refused in production' });
    } else if (value.length < MIN_SECRET_LENGTH) {
      issues.push({ variable, message: `must be at least ${MIN_SECRET_LENGTH} characters in production` });
    }
  }
  for (const variable of ['NATS_USER', 'NATS_PASSWORD'] as const) {
    if (!config[variable]) issues.push({ variable, message: 'required in production' });
  }
  return issues;
}

export interface ServiceEnv<S extends z.ZodRawShape> {
  service: string;
  /** The service's own variables; the shared ones are added. */
  shape: S;
  /** Secrets checked by productionIssues. */
  secrets?: readonly SecretRule[];
  /** Cross-field rules of the service (e.g. one bound above another). */
  check?: (config: z.infer<z.ZodObject<typeof sharedEnv & S>>) => ConfigIssue[];
}

/**
 * Parses the environment once against the shared variables plus the service's own, and freezes the result.
 * Throws {@link InvalidConfig} naming each bad variable; only a service's main.ts calls it.
 */
export function loadServiceConfig<S extends z.ZodRawShape>(
  spec: ServiceEnv<S>,
  env: Record<string, string | undefined>,
): Readonly<z.infer<z.ZodObject<typeof sharedEnv & S>>> {
  const schema = z.object({ ...sharedEnv, ...spec.shape });
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new InvalidConfig(
      spec.service,
      parsed.error.issues.map((i) => ({ variable: i.path.join('.'), message: i.message })),
    );
  }
  const config = parsed.data as z.infer<z.ZodObject<typeof sharedEnv & S>>;
  const issues = [
    ...productionIssues(config as SharedConfig & Record<string, unknown>, spec.secrets ?? []),
    ...(spec.check?.(config) ?? []),
  ];
  if (issues.length > 0) throw new InvalidConfig(spec.service, issues);
  return Object.freeze(config);
}
