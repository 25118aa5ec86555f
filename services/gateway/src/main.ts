import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { natsNames } from '@pulse/contracts';
import { buildGateway } from './app.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { ensureStreams } from './streams.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({
    level: config.LOG_LEVEL,
    base: { service: 'gateway', gatewayId: config.GATEWAY_ID },
  });
  const nc = await connect({
    servers: config.NATS_URL,
    name: `gateway-${config.GATEWAY_ID}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, natsNames(config.NATS_NAMESPACE), config.NATS_STREAM_REPLICAS);
  const gateway = buildGateway({ config, nc, jsm, logger });
  gateway.server.listen(config.GATEWAY_PORT, () => {
    const address = gateway.server.address();
    logger.info({ port: typeof address === 'object' ? address?.port : address }, 'gateway listening');
  });

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
