export {
  DEFAULT_ADDRESS_LIMIT_EXEMPT,
  addressList,
  clientAddress,
  compileTrustProxy,
  isAddressList,
  isTrustProxy,
} from './addresses.js';
export type { TrustProxy } from './addresses.js';
export {
  DEFAULT_NATS_URL,
  DEV_ACCESS_SECRET,
  DEV_JOIN_TICKET_SECRET,
  InvalidConfig,
  LOG_LEVELS,
  MIN_SECRET_LENGTH,
  clientAddressEnv,
  intVar,
  joinTicketEnv,
  minuteEnv,
  DEFAULT_MINUTE_MS,
  loadServiceConfig,
  portVar,
  productionIssues,
  sharedEnv,
} from './config.js';
export type { ConfigIssue, SecretRule, ServiceEnv, SharedConfig } from './config.js';
export { PortUnavailable, listen } from './listen.js';
export type { ListenAt } from './listen.js';
export { createLogger, installLastResort } from './logger.js';
export type { LoggerOptions } from './logger.js';
export {
  DEFAULT_STREAM_SETTINGS,
  NATS_RECONNECT_WAIT_MS,
  applyStreamSettings,
  connectNats,
  ensureFollowsBucket,
  ensureStreams,
  isNotFound,
  natsOptions,
  streamSettings,
  toStreamConfig,
} from './nats.js';
export type { StreamLimits, StreamSettings } from './nats.js';
export { PROBE_TIMEOUT_MS, probe, readinessReport } from './readiness.js';
export type { ReadinessInput, ReadinessReport } from './readiness.js';
