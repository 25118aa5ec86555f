import 'reflect-metadata';
import './http/context.js';
import { addressList, compileTrustProxy } from '@pulse/runtime';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { SwaggerRouter } from 'koa-swagger-decorator';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { AccountService } from './accounts/account-service.js';
import { AuthRoutes } from './accounts/auth-routes.js';
import { LoginLimiter, RegistrationLimiter } from './accounts/auth-limits.js';
import { AccessTokens } from './accounts/tokens.js';
import { ClassEnergyRoutes } from './class-energy/class-energy-routes.js';
import { ClassEnergyService } from './class-energy/class-energy-service.js';
import { FeedbackRoutes } from './feedback/feedback-routes.js';
import { FeedbackService } from './feedback/feedback-service.js';
import { authenticate } from './http/authenticate.js';
import { clientAddress } from './http/client-address.js';
import { docsRoutes } from './http/docs.js';
import { errorsToWire } from './http/errors-to-wire.js';
import { handlerTimeout } from './http/handler-timeout.js';
import { healthRoutes } from './http/health.js';
import type { Readiness } from './http/health.js';
import { createMetrics } from './http/metrics.js';
import { requestLog } from './http/request-log.js';
import { requestTarget } from './http/request-target.js';
import { webApp } from './http/web-app.js';
import type { ClickHouseClient } from './infra/clickhouse.js';
import type { OutboxSignal } from './outbox/outbox.js';
import { JoinTickets } from './registrations/join-ticket.js';
import { RegistrationRoutes } from './registrations/registration-routes.js';
import { RegistrationService } from './registrations/registration-service.js';
import { HistoryService } from './results/history-service.js';
import { ResultsRoutes } from './results/results-routes.js';
import { FrozenResults } from './results/frozen-results.js';
import { LiveResults } from './results/live-results.js';
import { ResultsFreezer } from './results/results-freeze.js';
import { ResultsService } from './results/results-service.js';
import type { FreezeSignal } from './results/results-service.js';
import type { ApiServices } from './services.js';
import { SessionRoutes } from './sessions/session-routes.js';
import { SessionListCache } from './sessions/session-list-cache.js';
import { SessionService } from './sessions/session-service.js';
import { SocialRoutes } from './social/social-routes.js';
import { SocialService } from './social/social-service.js';

export interface ApiDeps {
  config: Config;
  logger: Logger;
  orm: MikroORM;
  nats: NatsConnection;
  redis: Redis;
  clickhouse: ClickHouseClient;
  /** Woken after every commit that wrote an outbox row (the publisher, started by main.ts). */
  outbox: OutboxSignal;
  readiness?: Readiness;
  /**
   * Freezes ended sessions' results (main.ts shares it with the FreezeWatch it starts); one is built
   * when absent. `freezeWatch` hears of ended sessions a results request found unfrozen.
   */
  freezer?: ResultsFreezer;
  freezeWatch?: FreezeSignal;
}

export const ROUTE_CLASSES = [
  AuthRoutes,
  SessionRoutes,
  RegistrationRoutes,
  FeedbackRoutes,
  ResultsRoutes,
  SocialRoutes,
  ClassEnergyRoutes,
];

function buildServices(deps: ApiDeps): ApiServices {
  const { config, orm } = deps;
  const exempt = addressList(config.ADDRESS_LIMIT_EXEMPT);
  const login = new LoginLimiter(deps.redis, config.REDIS_KEY_PREFIX, {
    maxPerAccountAddress: config.LOGIN_MAX_PER_ACCOUNT,
    accountAddressWindowSec: config.LOGIN_ACCOUNT_WINDOW_SEC,
    maxPerAddress: config.LOGIN_MAX_PER_IP,
    addressWindowSec: config.LOGIN_IP_WINDOW_SEC,
    maxPerAccount: config.LOGIN_MAX_PER_ACCOUNT_GLOBAL,
    accountWindowSec: config.LOGIN_ACCOUNT_GLOBAL_WINDOW_SEC,
    knownAddressTtlSec: config.LOGIN_KNOWN_ADDRESS_TTL_SEC,
    exempt,
  });
  const registration = new RegistrationLimiter(deps.redis, config.REDIS_KEY_PREFIX, {
    maxPerAddress: config.REGISTER_MAX_PER_IP,
    windowSec: config.REGISTER_IP_WINDOW_SEC,
    exempt,
  });
  const accessTokens = new AccessTokens(config.JWT_ACCESS_SECRET, config.ACCESS_TOKEN_TTL_SEC);
  const sessions = new SessionService(orm, deps.outbox, new SessionListCache(config.SESSION_LIST_CACHE_MS));
  const freezer = deps.freezer ?? new ResultsFreezer(orm, deps.clickhouse, config.CLICKHOUSE_DB, deps.logger);
  const frozen = new FrozenResults(orm);
  freezer.onFrozen(frozen);
  const tickets = new JoinTickets(config.JOIN_TICKET_SECRET, config.JOIN_TICKET_TTL_SEC);
  return {
    accounts: new AccountService(orm, accessTokens, { login, registration }, config.REFRESH_TOKEN_TTL_SEC),
    sessions,
    registrations: new RegistrationService(orm, sessions, tickets, config.GATEWAY_PUBLIC_URL, deps.outbox),
    feedback: new FeedbackService(orm),
    results: new ResultsService(
      orm,
      frozen,
      new LiveResults(deps.clickhouse, config.CLICKHOUSE_DB),
      freezer,
      deps.freezeWatch ?? { watch: () => undefined },
    ),
    history: new HistoryService(orm, frozen),
    social: new SocialService(orm, deps.outbox),
    classEnergy: new ClassEnergyService(orm, deps.clickhouse, config.CLICKHOUSE_DB),
  };
}

/** Builds the Koa app from its dependencies; it does not listen (main.ts and tests do). */
export function buildApi(deps: ApiDeps): Koa {
  const { config, logger } = deps;
  const app = new Koa({ proxy: false });
  const metrics = createMetrics();
  app.context.services = buildServices(deps);
  app.silent = true; // errors are logged once, by errorsToWire

  const health = healthRoutes(
    {
      postgresql: () => deps.orm.em.getConnection().execute('select 1'),
      nats: () => (deps.nats.isClosed() ? Promise.reject(new Error('closed')) : deps.nats.flush()),
      clickhouse: async () => {
        const { success } = await deps.clickhouse.ping();
        if (!success) throw new Error('clickhouse ping failed');
      },
      redis: () => deps.redis.ping(),
    },
    deps.readiness ?? { draining: false },
    metrics.registry,
  );
  const api = new SwaggerRouter({
    spec: {
      info: {
        title: 'Pulse API',
        version: '1.0.0',
        description: 'Live group workouts: accounts, sessions, results',
      },
    },
  });
  for (const routes of ROUTE_CLASSES) api.applyRoute(routes);

  // Middleware that only checks or sets something and passes the request on is a plain function returning
  // `next()`: an async one adds a promise and an await to every request, each seen by the promise hooks that
  // MikroORM's AsyncLocalStorage switches on.
  app.use(clientAddress(compileTrustProxy(config.TRUST_PROXY)));
  app.use(requestLog(logger, metrics.httpLatency));
  app.use(errorsToWire(logger));
  app.use(handlerTimeout(config.REQUEST_TIMEOUT_MS, logger));
  app.use(requestTarget());
  app.use(health.routes());
  app.use(docsRoutes(config.GATEWAY_PUBLIC_URL).routes());
  app.use(webApp(config.WEB_APP_DIR));
  app.use(authenticate(new AccessTokens(config.JWT_ACCESS_SECRET, config.ACCESS_TOKEN_TTL_SEC)));
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: config.BODY_LIMIT_BYTES, jsonStrict: true }));
  app.use(api.routes());
  return app;
}
