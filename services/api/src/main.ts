import { createServer } from 'node:http';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
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
import { Redis } from 'ioredis';
import { natsNames } from '@pulse/contracts';
import { buildApi } from './app.js';
import { loadConfig } from './config.js';
import type { Readiness } from './http/health.js';
import { openDatabase } from './db/orm.js';
import { applyClickHouseSchema, openClickHouse } from './infra/clickhouse.js';
import { OutboxPublisher } from './outbox/outbox-publisher.js';
import { FreezeWatch } from './results/freeze-watch.js';
import { ResultsFreezer } from './results/results-freeze.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof InvalidConfig)) throw err;
    console.error(`pulse-api: refusing to start.\n${err.message}`);
    process.exit(78); // EX_CONFIG
  }
  const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'api' } });
  installLastResort(logger);

  const orm = await openDatabase({
    url: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    poolMax: config.DATABASE_POOL_MAX,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    logger,
    migrate: config.MIGRATE_ON_START,
  });
  const nats = await connectNats(config, 'pulse-api');
  const names = natsNames(config.NATS_NAMESPACE);
  const jsm = await jetstreamManager(nats);
  await ensureStreams(jsm, names, streamSettings(config));
  await ensureFollowsBucket(jsm, names, streamSettings(config));
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  const clickhouse = openClickHouse(config.CLICKHOUSE_URL);
  await applyClickHouseSchema(clickhouse, config.CLICKHOUSE_DB, config.CLICKHOUSE_CLUSTER);

  const outbox = new OutboxPublisher(orm, jetstream(nats), names, logger, config.OUTBOX_POLL_MS, {
    retentionMs: config.OUTBOX_RETENTION_HOURS * 3_600_000,
  });
  const freezer = new ResultsFreezer(orm, clickhouse, config.CLICKHOUSE_DB, logger);
  const freezeWatch = new FreezeWatch(freezer, orm, nats, names, logger);
  const readiness: Readiness = { draining: false };
  const app = buildApi({
    config,
    logger,
    orm,
    nats,
    redis,
    clickhouse,
    outbox,
    readiness,
    freezer,
    freezeWatch,
  });
  const server = createServer(app.callback());
  server.requestTimeout = config.REQUEST_TIMEOUT_MS;
  server.headersTimeout = Math.min(config.REQUEST_TIMEOUT_MS, 60_000);
  await listen(server, { port: config.API_PORT, backlog: config.API_LISTEN_BACKLOG });
  logger.info({ port: config.API_PORT }, 'api listening');
  outbox.start();
  freezeWatch.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: readiness off, draining');
    readiness.draining = true;
    const forced = setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_MS).unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await outbox.stop();
    await freezeWatch.stop();
    await Promise.allSettled([nats.drain(), orm.close(), redis.quit(), clickhouse.close()]);
    clearTimeout(forced);
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  console.error('pulse-api failed to start', err);
  process.exit(1);
});
