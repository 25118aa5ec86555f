import { hostname } from 'node:os';
import { z } from 'zod';
import { CLICKHOUSE_DB_PATTERN, SCORE_ALLOWANCE } from '@pulse/contracts';
import {
  DEFAULT_MINUTE_MS,
  intVar,
  loadServiceConfig,
  minuteEnv,
  portVar,
  type ServiceEnv,
} from '@pulse/runtime';
import { DEFAULT_CHECKPOINTS_MAX_BYTES } from './nats/checkpoint-store.js';
import { DEFAULT_BUCKET_MAX_BYTES } from './nats/lease-ownership.js';
import { DEFAULT_CHECKPOINT_INTERVAL_MS } from './session/partition-checkpoints.js';

export const DEFAULT_ENGINE_PORT = 8090;
export const DEFAULT_RANK_TICK_MS = 100;
export { DEFAULT_MINUTE_MS };
export const DEFAULT_RESULTS_FLUSH_MS = 5_000;
export const DEFAULT_CH_BATCH_MAX_ROWS = 10_000;
/**
 * 2 s: raw rows are inserted per partition, so 16 partitions flushing every 500 ms made 32 ClickHouse inserts a
 * second and ClickHouse's merges took up to two thirds of a core at 500 sessions × 20 (issue 12). A session's end
 * and a checkpoint flush at once, so this delays only the acks (well within ACK_WAIT_MS).
 */
export const DEFAULT_CH_FLUSH_MS = 2_000;
/** How long JetStream waits for an ack before redelivering; after a crash this bounds the wait for redelivery. */
export const DEFAULT_ACK_WAIT_MS = 15_000;

/**
 * A membership or lease key lives this long without renewal; renewals run every quarter of it. A dead
 * engine's sessions move after about this long, so failover stays within 5 s (issue 14).
 */
export const DEFAULT_ENGINE_LEASE_TTL_MS = 3_000;

/** How long a graceful stop may take before the engine gives up on ClickHouse and exits. */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 30_000;
export const DEFAULT_END_BARRIER_MAX_WAIT_MS = 30_000;
export const DEFAULT_GATEWAY_SILENCE_MS = 10_000;
export const DEFAULT_GATEWAY_PRESENCE_SETTLE_MS = 3_000;

const positiveInt = intVar(1);

const EngineEnv = {
  ENGINE_PORT: portVar.default(DEFAULT_ENGINE_PORT),
  CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  CLICKHOUSE_DB: z.string().regex(CLICKHOUSE_DB_PATTERN).default('pulse'),
  /** Production: the cluster whose replicas each hold every table (ON CLUSTER, Replicated*MergeTree). */
  CLICKHOUSE_CLUSTER: z.union([z.literal(''), z.string().regex(CLICKHOUSE_DB_PATTERN)]).default(''),
  RANK_TICK_MS: positiveInt.default(DEFAULT_RANK_TICK_MS),
  ...minuteEnv,
  RESULTS_FLUSH_MS: positiveInt.default(DEFAULT_RESULTS_FLUSH_MS),
  CH_BATCH_MAX_ROWS: positiveInt.default(DEFAULT_CH_BATCH_MAX_ROWS),
  CH_FLUSH_MS: positiveInt.default(DEFAULT_CH_FLUSH_MS),
  ACK_WAIT_MS: intVar(1_000).default(DEFAULT_ACK_WAIT_MS),
  ENGINE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_=-][A-Za-z0-9_=.-]*$/, 'letters, digits, _ = - and . (a KV key token)')
    .default(hostname()),
  /** `leases`: share sessions with other replicas through JetStream KV; `all`: run every session alone. */
  ENGINE_OWNERSHIP: z.enum(['leases', 'all']).default('leases'),
  ENGINE_LEASE_TTL_MS: intVar(400).default(DEFAULT_ENGINE_LEASE_TTL_MS),
  /** Byte limit of the engines' KV bucket (membership and leases). */
  NATS_ENGINES_KV_MAX_BYTES: intVar(65_536).default(DEFAULT_BUCKET_MAX_BYTES),
  /**
   * How often each owned partition writes a checkpoint of its actors (issue 14): a takeover replays only the
   * stream after it. 0 disables checkpoints (no writes, no reads: every takeover replays the whole partition).
   */
  CHECKPOINT_INTERVAL_MS: intVar(0)
    .refine((ms) => ms === 0 || ms >= 100, '0 (no checkpoints) or at least 100')
    .default(DEFAULT_CHECKPOINT_INTERVAL_MS),
  /** Byte limit of the checkpoints object store (one checkpoint per partition, gzipped). */
  NATS_CHECKPOINTS_MAX_BYTES: intVar(1_048_576).default(DEFAULT_CHECKPOINTS_MAX_BYTES),
  /** Past this after SIGTERM the engine releases its leases and exits, even if ClickHouse hangs. */
  ENGINE_SHUTDOWN_DEADLINE_MS: intVar(1_000).default(DEFAULT_SHUTDOWN_DEADLINE_MS),
  /**
   * The score allowance (see SCORE_ALLOWANCE in contracts). Every engine of a deployment must use the same
   * values: a session that moves replays its ratings under the new owner's rule.
   */
  /**
   * An ending session freezes once every gateway holding its clients sent its end barrier; at the latest
   * this long after the end (a gateway that never sends one), with a warning and a metric (issue 14).
   */
  END_BARRIER_MAX_WAIT_MS: intVar(1_000).default(DEFAULT_END_BARRIER_MAX_WAIT_MS),
  /** A gateway whose presence beats stopped this long ago is gone: its end barrier is no longer awaited. */
  GATEWAY_SILENCE_MS: intVar(1_000).default(DEFAULT_GATEWAY_SILENCE_MS),
  /**
   * How long a started engine listens to presence beats before it trusts it knows every gateway (3 × the
   * gateways' PRESENCE_INTERVAL_MS); no session freezes earlier.
   */
  GATEWAY_PRESENCE_SETTLE_MS: intVar(0).default(DEFAULT_GATEWAY_PRESENCE_SETTLE_MS),
  SCORE_ALLOWANCE_PER_SEC: z.coerce.number().positive().default(SCORE_ALLOWANCE.ratePerSec),
  SCORE_ALLOWANCE_BURST: positiveInt.default(SCORE_ALLOWANCE.burst),
};

const engineEnv: ServiceEnv<typeof EngineEnv> = { service: 'live-engine', shape: EngineEnv };

export type EngineConfig = ReturnType<typeof loadConfig>;

/** Parses the engine's settings once; a bad value throws InvalidConfig (from @pulse/runtime) naming it. */
export function loadConfig(env: Record<string, string | undefined>) {
  return loadServiceConfig(engineEnv, env);
}
