// `node services/api/dist/src/migrate.js`: applies pending PostgreSQL migrations and the ClickHouse schema, then
// exits. Kubernetes runs it as a Job before a rollout (k8s/base/migrate-job.yaml); the API also does it on start.
import { InvalidConfig, createLogger } from '@pulse/runtime';
import { loadConfig } from './config.js';
import { openDatabase } from './db/orm.js';
import { applyClickHouseSchema, openClickHouse } from './infra/clickhouse.js';

async function migrate(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof InvalidConfig)) throw err;
    console.error(`pulse-api migrate: refusing to start.\n${err.message}`);
    process.exit(78); // EX_CONFIG
  }
  const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'api-migrate' } });
  const orm = await openDatabase({
    url: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    poolMax: 1,
    logger,
  });
  const executed = await orm.getMigrator().getExecutedMigrations();
  await orm.close();
  const clickhouse = openClickHouse(config.CLICKHOUSE_URL);
  await applyClickHouseSchema(clickhouse, config.CLICKHOUSE_DB, config.CLICKHOUSE_CLUSTER);
  await clickhouse.close();
  logger.info(
    { migrations: executed.map((m) => m.name), clickhouseDb: config.CLICKHOUSE_DB },
    'schema up to date',
  );
}

migrate().catch((err: unknown) => {
  console.error('pulse-api migrate failed:', err);
  process.exit(1);
});
