export { buildApi, ROUTE_CLASSES } from './app.js';
export type { ApiDeps } from './app.js';
export { loadConfig } from './config.js';
export type { Config } from './config.js';
export { openDatabase } from './db/orm.js';
export { OutboxPublisher } from './outbox/outbox-publisher.js';
