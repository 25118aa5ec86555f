export { buildApi, ROUTE_CLASSES } from './app.js';
export type { ApiDeps } from './app.js';
export { loadConfig, ConfigError } from './config.js';
export type { Config } from './config.js';
export { openDatabase } from './db/orm.js';
export { OutboxPublisher } from './outbox/outbox-publisher.js';
export { ensureStreams } from './infra/nats.js';
