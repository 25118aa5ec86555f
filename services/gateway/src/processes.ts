import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * Several gateway processes on one machine, sharing one port (issue 12). One Node event loop writes about
 * 6,000 rank frames a second before its latency grows, so a machine with more cores runs one gateway per core:
 * the primary only accepts connections and hands them to its workers in turn (node:cluster), each worker is a
 * whole gateway (its own GATEWAY_ID, NATS connection, presence and end barrier). In Kubernetes a pod runs one
 * process (GATEWAY_PROCESSES=1) and the Deployment scales.
 */

const METRICS_REQUEST = 'pulse:gateway-metrics';
/** How long a worker waits for the primary's aggregated metrics before answering with its own. */
const METRICS_TIMEOUT_MS = 5_000;
/** A worker that crashed after it served is replaced after this long, doubling per crash in a row (max 30 s). */
const RESTART_DELAY_MS = 1_000;
const RESTART_DELAY_MAX_MS = 30_000;

interface MetricsMessage {
  type: typeof METRICS_REQUEST;
  id: string;
  text?: string;
  error?: string;
}

const isMetricsMessage = (m: unknown): m is MetricsMessage =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === METRICS_REQUEST;

export interface PrimaryOptions {
  readonly processes: number;
  /** The GATEWAY_ID the operator set, if any: worker i is then `<id>-<i>`. */
  readonly gatewayId: string | undefined;
  /** After SIGTERM, workers still running this long after are killed. */
  readonly stopDeadlineMs: number;
  readonly logger: Logger;
}

/**
 * Runs the primary: forks the workers one after the other (each once the previous one listens, so stream setup
 * is not raced), replaces a worker that dies after it listened, and on SIGTERM/SIGINT stops them all and exits.
 * A worker that dies before it ever listened (bad configuration, NATS unreachable) stops the whole gateway with
 * its exit code, as a single process would.
 */
export function runPrimary({ processes, gatewayId, stopDeadlineMs, logger }: PrimaryOptions): void {
  const aggregator = new AggregatorRegistry();
  const byIndex = new Map<number, Worker>();
  const listened = new Set<number>();
  const crashesInARow = new Map<number, number>();
  let stopping = false;
  let exitCode = 0;

  const fork = (index: number) => {
    const env: Record<string, string> = { GATEWAY_WORKER_INDEX: String(index) };
    if (gatewayId !== undefined) env.GATEWAY_ID = `${gatewayId}-${index}`;
    const worker = cluster.fork(env);
    byIndex.set(index, worker);
    worker.on('listening', () => {
      listened.add(index);
      crashesInARow.set(index, 0);
      logger.info({ worker: index, pid: worker.process.pid }, 'gateway process listening');
      // Start-up only: a replaced worker's successor already started once (and a dead one has its own restart).
      const next = index + 1;
      if (next < processes && !byIndex.has(next) && !listened.has(next)) fork(next);
    });
    worker.on('exit', (code, signal) => {
      byIndex.delete(index);
      if (stopping) {
        if (code !== 0 && code !== null) exitCode = code;
        if (byIndex.size === 0) process.exit(exitCode);
        return;
      }
      if (!listened.has(index)) {
        logger.error({ worker: index, code, signal }, 'gateway process failed to start; stopping');
        stop(code ?? 1);
        return;
      }
      const crashes = (crashesInARow.get(index) ?? 0) + 1;
      crashesInARow.set(index, crashes);
      const delay = Math.min(RESTART_DELAY_MS * 2 ** (crashes - 1), RESTART_DELAY_MAX_MS);
      logger.error({ worker: index, code, signal, restartInMs: delay }, 'gateway process died; replacing it');
      setTimeout(() => {
        if (!stopping) fork(index);
      }, delay);
    });
  };

  cluster.on('message', (worker, message: unknown) => {
    if (!isMetricsMessage(message) || message.text !== undefined) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_REQUEST, id: message.id, text }),
      (err: unknown) => worker.send({ type: METRICS_REQUEST, id: message.id, error: String(err) }),
    );
  });

  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    if (byIndex.size === 0) process.exit(exitCode);
    for (const worker of byIndex.values()) worker.process.kill('SIGTERM');
    setTimeout(() => {
      logger.error({ running: byIndex.size }, 'gateway processes did not stop in time; killing them');
      for (const worker of byIndex.values()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, stopDeadlineMs).unref();
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));

  logger.info({ processes }, 'starting gateway processes');
  fork(0);
}

/**
 * The text of GET /metrics: in a worker of several, every worker's metrics summed by the primary (a scrape sees
 * the whole gateway, not whichever worker took the connection); alone, this process's registry.
 */
export function metricsText(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker) return () => registry.metrics();
  // Constructing one makes prom-client answer the primary's requests for this worker's metrics.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<string, (text: string | null) => void>();
  process.on('message', (message: unknown) => {
    if (!isMetricsMessage(message)) return;
    pending.get(message.id)?.(message.text ?? null);
  });
  return () =>
    new Promise<string | null>((resolve) => {
      const id = randomUUID();
      const timer = setTimeout(() => done(null), METRICS_TIMEOUT_MS);
      const done = (text: string | null) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(text);
      };
      pending.set(id, done);
      process.send?.({ type: METRICS_REQUEST, id });
    }).then((text) => text ?? registry.metrics());
}
