import { createServer } from 'node:http';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { InvalidConfig, connectNats, createLogger, installLastResort, listen } from '@pulse/runtime';
import { buildEngine } from './app.js';
import { loadConfig } from './config.js';
import { healthHandler } from './http/health.js';

/** Exit code for a configuration the engine refuses (EX_CONFIG). */
const EXIT_CONFIG = 78;

/** Starts the live engine: config, NATS, ClickHouse, the engine, the health/metrics listener, SIGTERM. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof InvalidConfig)) throw err;
    console.error(`pulse-live-engine: refusing to start. ${err.message}`);
    process.exit(EXIT_CONFIG);
  }
  const log = createLogger({
    level: config.LOG_LEVEL,
    base: { service: 'live-engine', engineId: config.ENGINE_ID },
  });
  installLastResort(log);
  const nc = await connectNats(config, `live-engine-${config.ENGINE_ID}`);
  const clickhouse = createClient({
    url: config.CLICKHOUSE_URL,
    request_timeout: 30_000,
    // Failures reach the engine as errors and are logged there as JSON (the batch writer retries).
    log: { level: ClickHouseLogLevel.OFF },
  });
  const engine = buildEngine({ config, nc, clickhouse, log });
  const server = createServer(healthHandler(engine));
  await listen(server, { port: config.ENGINE_PORT });
  await engine.start();
  log.info({ port: config.ENGINE_PORT }, 'health and metrics listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const stopped = await Promise.race([
      engine.stop().then(() => true),
      delay(config.ENGINE_SHUTDOWN_DEADLINE_MS).then(() => false),
    ]);
    if (!stopped) {
      // ClickHouse (or NATS) hangs: what is unacked is redelivered to the next owner, so hand the leases
      // over now rather than hold every session of this engine until the kubelet kills it.
      log.error({ deadlineMs: config.ENGINE_SHUTDOWN_DEADLINE_MS }, 'graceful stop overran its deadline');
      await Promise.race([engine.ownership.releaseAll().catch(() => undefined), delay(2_000)]);
      process.exit(1);
    }
    await nc.drain().catch(() => undefined);
    await clickhouse.close();
    server.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
