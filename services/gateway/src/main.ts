import cluster from 'node:cluster';
import { jetstreamManager } from '@nats-io/jetstream';
import { natsNames } from '@pulse/contracts';
import {
  InvalidConfig,
  connectNats,
  createLogger,
  ensureFollowsBucket,
  ensureStreams,
  installLastResort,
  listen,
  streamSettings,
} from '@pulse/runtime';
import { buildGateway } from './app.js';
import { loadConfig } from './config.js';
import { runPrimary } from './processes.js';

/** Exit code for a configuration the gateway refuses (EX_CONFIG). */
const EXIT_CONFIG = 78;
/** Beyond its drain and shutdown deadline, what a worker gets to close its sockets and NATS connection. */
const STOP_MARGIN_MS = 5_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof InvalidConfig)) throw err;
    console.error(`pulse-gateway: refusing to start. ${err.message}`);
    process.exit(EXIT_CONFIG);
  }
  if (cluster.isPrimary && config.GATEWAY_PROCESSES > 1) {
    runPrimary({
      processes: config.GATEWAY_PROCESSES,
      gatewayId: process.env.GATEWAY_ID,
      stopDeadlineMs: config.SHUTDOWN_TIMEOUT_MS + config.GATEWAY_DRAIN_MS + STOP_MARGIN_MS,
      logger: createLogger({ level: config.LOG_LEVEL, base: { service: 'gateway', role: 'primary' } }),
    });
    return;
  }
  const logger = createLogger({
    level: config.LOG_LEVEL,
    base: { service: 'gateway', gatewayId: config.GATEWAY_ID },
  });
  const nc = await connectNats(config, `gateway-${config.GATEWAY_ID}`);
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, natsNames(config.NATS_NAMESPACE), streamSettings(config));
  await ensureFollowsBucket(jsm, natsNames(config.NATS_NAMESPACE), streamSettings(config));
  const gateway = buildGateway({ config, nc, jsm, logger });
  installLastResort(logger, () => gateway.metrics.uncaughtErrors.inc());
  await listen(gateway.server, { port: config.GATEWAY_PORT, backlog: config.GATEWAY_LISTEN_BACKLOG });
  const address = gateway.server.address();
  logger.info({ port: typeof address === 'object' ? address?.port : address }, 'gateway listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await gateway.close();
      await nc.drain();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
