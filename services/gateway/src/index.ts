export { buildGateway } from './app.js';
export type { Gateway, GatewayDeps } from './app.js';
export { loadConfig } from './config.js';
export type { GatewayConfig } from './config.js';
