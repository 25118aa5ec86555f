export { buildGateway } from './app.js';
export type { Gateway, GatewayDeps } from './app.js';
export { loadConfig, InvalidConfig, DEV_JOIN_TICKET_SECRET } from './config.js';
export type { GatewayConfig } from './config.js';
export { ensureStreams } from './streams.js';
