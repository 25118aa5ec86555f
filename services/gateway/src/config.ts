import { hostname } from 'node:os';
import { z } from 'zod';
import { RATING_BATCH_MAX } from '@pulse/contracts';
import {
  DEV_JOIN_TICKET_SECRET,
  intVar,
  clientAddressEnv,
  joinTicketEnv,
  loadServiceConfig,
  minuteEnv,
  portVar,
  type ServiceEnv,
} from '@pulse/runtime';

/**
 * 25 ms: one message per partition per 25 ms keeps a gateway at ≤ 640 batch messages/s (16 partitions) whatever
 * the rating rate (MACHINE-FACTS: 16 partitions at 50 ms windows cost NATS 6 % of a core at 10k ratings/s), and
 * adds at most a quarter of a 100 ms rank tick to a rating's way to its rank.
 */
export const DEFAULT_RATING_BATCH_WINDOW_MS = 25;

const GatewayEnv = {
  ...joinTicketEnv,
  ...clientAddressEnv,
  ...minuteEnv,
  GATEWAY_PORT: portVar.default(8080),
  GATEWAY_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
  /**
   * Gateway processes sharing GATEWAY_PORT on this machine (node:cluster; issue 12): one event loop carries a
   * few thousand sockets, so `npm start` runs one per core. In Kubernetes a pod runs one and the Deployment scales.
   */
  GATEWAY_PROCESSES: intVar(1).max(64).default(1),
  /**
   * Connections the kernel may hold for the gateway to accept (the listen backlog; Linux caps it at
   * net.core.somaxconn). Node's 511 overflowed while thousands of devices connected or came back at once: the
   * kernel then drops their handshakes, they arrive seconds late (retransmitted), and a device gives up on them.
   */
  GATEWAY_LISTEN_BACKLOG: intVar(1).default(4096),
  /** Sustained ratings per second per user (devices send about one a second). */
  RATING_RATE_PER_SEC: z.coerce.number().positive().default(5),
  /** Token bucket size: lets a reconnecting client resend a 2-minute backlog at once. */
  RATING_BURST: intVar(1).default(120),
  /** JetStream publishes of participant messages in flight at once per process. */
  PUBLISH_WINDOW: intVar(1).default(256),
  /** Ratings waiting in open or unacknowledged batches; beyond it a rating is refused with UNAVAILABLE. */
  PUBLISH_QUEUE_MAX: intVar(0).default(20_000),
  /** A partition's rating batch is published this long after its first rating (issue 12). */
  RATING_BATCH_WINDOW_MS: intVar(1).default(DEFAULT_RATING_BATCH_WINDOW_MS),
  /** ... or as soon as it holds this many ratings. */
  RATING_BATCH_MAX: intVar(1).max(RATING_BATCH_MAX).default(RATING_BATCH_MAX),
  /** How long a connect waits for the engine's answer to its lastSeq request before UNAVAILABLE + 1012. */
  LAST_SEQ_TIMEOUT_MS: intVar(100).default(3_000),
  /** How long a publish waits for JetStream's ack before the client gets UNAVAILABLE. */
  PUBLISH_TIMEOUT_MS: intVar(100).default(5_000),
  PRESENCE_INTERVAL_MS: intVar(50).default(1_000),
  /**
   * At a session's end, ratings a client sent before it have this long to be stored; the ones still queued
   * are then refused with NOT_LIVE, so `ended.lastSeq` is known (issue 14).
   */
  END_DRAIN_MS: intVar(0).default(5_000),
  /**
   * A ticket that expired less than this long ago still learns that its session is over (`ended` with its
   * last counted seq, or `cancelled`); for a session that is not over it is refused like any expired ticket.
   * 0 turns it off.
   */
  ENDED_TICKET_GRACE_SEC: intVar(0).default(86_400),
  /** A pending rank frame is written only while the socket buffers less than this. */
  SEND_BUFFER_LOW_BYTES: intVar(1).default(64 * 1024),
  /** A socket buffering more than this is closed with 4429 (the client stopped reading). */
  SEND_BUFFER_MAX_BYTES: intVar(1).default(1024 * 1024),
  /** A client that could not take a rank frame for this long is closed with 4429. */
  SLOW_CONSUMER_MS: intVar(100).default(15_000),
  /** Open WebSockets (and upgrades in progress) per client address on one gateway; beyond it 429. */
  MAX_SOCKETS_PER_ADDRESS: intVar(1).default(50),
  /** A socket that got no `welcome` this long after the upgrade is closed with 1012 (dependency slow). */
  WELCOME_TIMEOUT_MS: intVar(1).default(10_000),
  /** On shutdown, sockets are closed with 1012 at random moments within this span (no reconnect burst). */
  GATEWAY_DRAIN_MS: intVar(0).default(2_000),
  /** Graceful shutdown waits at most this long for in-flight publishes. */
  SHUTDOWN_TIMEOUT_MS: intVar(0).default(10_000),
};

const gatewayEnv: ServiceEnv<typeof GatewayEnv> = {
  service: 'gateway',
  shape: GatewayEnv,
  secrets: [['JOIN_TICKET_SECRET', DEV_JOIN_TICKET_SECRET]],
  check: (env) =>
    env.SEND_BUFFER_MAX_BYTES < env.SEND_BUFFER_LOW_BYTES
      ? [{ variable: 'SEND_BUFFER_MAX_BYTES', message: 'must be at least SEND_BUFFER_LOW_BYTES' }]
      : [],
};

export type GatewayConfig = ReturnType<typeof loadConfig>;

/** Parses the gateway's environment once; a bad value throws InvalidConfig naming the variable. */
export function loadConfig(env: Record<string, string | undefined>) {
  return loadServiceConfig(gatewayEnv, env);
}
