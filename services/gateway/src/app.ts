import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  CloseCode,
  ErrorCode,
  LIVE_PATH,
  MAX_MESSAGE_FRAGMENTS,
  MAX_PENDING_PONGS,
  MAX_SOCKET_PAYLOAD_BYTES,
  natsNames,
  redactQuery,
} from '@pulse/contracts';
import { readinessReport } from '@pulse/runtime';
import type { GatewayConfig } from './config.js';
import { Connection } from './connection.js';
import { EndBarriers } from './end-barrier.js';
import { FollowSets } from './follow-sets.js';
import { installDoor, requestTarget, type DeviceOrigin } from './door.js';
import { errorCodeOf, errorFrame } from './errors.js';
import { createMetrics, type GatewayMetrics } from './metrics.js';
import { metricsText } from './processes.js';
import { Publisher } from './publisher.js';
import { RatingBatches } from './rating-batches.js';
import { engineLastSeq } from './last-seq.js';
import { LocalSessions } from './sessions.js';
import { answerClosedSession } from './closed-session.js';
import { expiredJoinTicket, ticketOf, verifyJoinTicket } from './tickets.js';

export interface GatewayDeps {
  config: GatewayConfig;
  nc: NatsConnection;
  jsm: JetStreamManager;
  logger: Logger;
}

export interface Gateway {
  /** The HTTP server (health, readiness, metrics, WebSocket upgrades); the caller listens. */
  server: ReturnType<typeof createServer>;
  metrics: GatewayMetrics;
  /** Graceful stop: readiness 503, no new upgrades, clients closed with 1012, publishes drained. */
  close(): Promise<void>;
}

/**
 * What `ws` enforces on every socket, pinned here because the contract documents it (a `ws` upgrade must not
 * change it unnoticed): 1009 above MAX_SOCKET_PAYLOAD_BYTES, 1008 above MAX_MESSAGE_FRAGMENTS, and a ping flood
 * (more than MAX_PENDING_PONGS pongs waiting to be written) cut without a close frame. `maxPendingAutoPongs`
 * (ws ≥ 8.23) is missing from @types/ws, hence no object literal at the call.
 */
const SOCKET_LIMITS = {
  noServer: true,
  maxPayload: MAX_SOCKET_PAYLOAD_BYTES,
  maxFragments: MAX_MESSAGE_FRAGMENTS,
  maxPendingAutoPongs: MAX_PENDING_PONGS,
};
/** How long clients get to answer the 1012 close handshake before their sockets are cut. */
const CLOSE_HANDSHAKE_MS = 2_000;
/** Publishes of a session's end barrier before giving up (each waits PUBLISH_TIMEOUT_MS). */
const END_BARRIER_ATTEMPTS = 3;

export function buildGateway({ config, nc, jsm, logger }: GatewayDeps): Gateway {
  const names = natsNames(config.NATS_NAMESPACE);
  const metrics = createMetrics();
  const scrape = metricsText(metrics.registry);
  const publisher = new Publisher(
    jetstream(nc),
    {
      windowSize: config.PUBLISH_WINDOW,
      queueMax: config.PUBLISH_QUEUE_MAX,
      timeoutMs: config.PUBLISH_TIMEOUT_MS,
    },
    metrics,
  );
  const batches = new RatingBatches(
    jetstream(nc),
    names,
    config.GATEWAY_ID,
    {
      windowMs: config.RATING_BATCH_WINDOW_MS,
      maxRatings: config.RATING_BATCH_MAX,
      timeoutMs: config.PUBLISH_TIMEOUT_MS,
      queueMax: config.PUBLISH_QUEUE_MAX,
    },
    metrics,
  );
  const endBarriers = new EndBarriers(
    jetstream(nc),
    names,
    config.GATEWAY_ID,
    {
      drainMs: config.END_DRAIN_MS,
      publishTimeoutMs: config.PUBLISH_TIMEOUT_MS,
      attempts: END_BARRIER_ATTEMPTS,
    },
    metrics,
    logger,
  );
  const follows = new FollowSets(nc, names, logger);
  const sessions = new LocalSessions({
    nc,
    jsm,
    names,
    gatewayId: config.GATEWAY_ID,
    presenceIntervalMs: config.PRESENCE_INTERVAL_MS,
    rating: { ratePerSec: config.RATING_RATE_PER_SEC, burst: config.RATING_BURST },
    endBarriers,
    follows,
    metrics,
    logger,
  });
  const connectionDeps = {
    jsm,
    names,
    publisher,
    batches,
    lastSeq: engineLastSeq(nc, names, config.LAST_SEQ_TIMEOUT_MS),
    sessions,
    metrics,
    logger,
    sendBufferLowBytes: config.SEND_BUFFER_LOW_BYTES,
    sendBufferMaxBytes: config.SEND_BUFFER_MAX_BYTES,
    slowConsumerMs: config.SLOW_CONSUMER_MS,
    welcomeTimeoutMs: config.WELCOME_TIMEOUT_MS,
    minuteMs: config.MINUTE_MS,
  };
  const connections = new Set<Connection>();
  const wss = new WebSocketServer(SOCKET_LIMITS);
  let draining = false;
  let natsUp = !nc.isClosed();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') natsUp = false;
      if (status.type === 'reconnect') natsUp = true;
    }
  })();

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      metrics.uncaughtErrors.inc();
      logger.error({ err, url: redactQuery(req.url ?? '') }, 'request handler failed');
      if (!res.headersSent)
        json(res, 500, { error: { code: ErrorCode.INTERNAL, message: 'internal error' } });
      else res.destroy();
    });
  });
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = requestTarget(req.url);
    if (target === null) {
      metrics.requestsRefused.inc({ reason: 'bad_target' });
      return json(res, 400, refusal(ErrorCode.VALIDATION_FAILED, 'malformed request target'));
    }
    const path = target.pathname;
    if (req.method === 'GET' && path === '/healthz') return json(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/readyz') {
      const { httpStatus, body } = readinessReport({
        draining,
        checks: { nats: natsUp && !nc.isClosed() },
        required: ['nats'],
        details: { connections: connections.size },
      });
      return json(res, httpStatus, body);
    }
    if (req.method === 'GET' && path === '/metrics') {
      const text = await scrape();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (req.method === 'GET' && path === LIVE_PATH) {
      // Most often a proxy that drops the hop-by-hop Upgrade and Connection headers: a 404 sent people looking
      // for a wrong URL.
      metrics.requestsRefused.inc({ reason: 'bad_handshake' });
      const message = `${LIVE_PATH} takes WebSocket upgrades only (Upgrade: websocket, Connection: Upgrade)`;
      return json(res, 400, refusal(ErrorCode.VALIDATION_FAILED, message));
    }
    metrics.requestsRefused.inc({ reason: 'not_found' });
    json(res, 404, refusal(ErrorCode.NOT_FOUND, `no route ${req.method} ${path}`));
  }

  installDoor({
    server,
    wss,
    config,
    metrics,
    logger,
    draining: () => draining,
    accept,
  });

  function accept(ws: WebSocket, query: URLSearchParams, origin: DeviceOrigin | undefined): void {
    let ticket: string | null = null;
    let claims;
    try {
      ticket = ticketOf(query);
      claims = verifyJoinTicket(ticket, config.JOIN_TICKET_SECRET, Date.now());
    } catch (err) {
      // No Connection listens to this socket. A broken frame the client sends before the close handshake ends
      // makes ws emit 'error' (then close 1002/1007), which without a listener threw out of the event loop.
      ws.on('error', (e) => logger.debug({ err: e }, 'refused socket error'));
      const expired = expiredJoinTicket(
        ticket,
        config.JOIN_TICKET_SECRET,
        Date.now(),
        config.ENDED_TICKET_GRACE_SEC,
      );
      if (expired !== undefined) {
        answerClosedSession(ws, expired, connectionDeps).catch((e: unknown) => {
          logger.warn({ err: e }, 'closed-session answer failed');
          ws.terminate();
        });
        return;
      }
      logger.debug({ code: errorCodeOf(err), reason: (err as Error).message }, 'join ticket refused');
      metrics.framesRejected.inc({ code: errorCodeOf(err) });
      ws.send(errorFrame(err));
      ws.close(CloseCode.UNAUTHORIZED);
      return;
    }
    const connection = new Connection(ws, claims, connectionDeps, origin);
    connections.add(connection);
    ws.once('close', () => connections.delete(connection));
    void connection.start();
  }

  async function close(): Promise<void> {
    if (draining) return;
    draining = true;
    await spreadOver(config.GATEWAY_DRAIN_MS, [...connections], (c) => c.close(CloseCode.RECONNECT));
    sessions.stop();
    follows.stop();
    await Promise.race([Promise.all([publisher.idle(), batches.idle()]), delay(config.SHUTDOWN_TIMEOUT_MS)]);
    await Promise.race([
      new Promise<void>((resolve) => wss.close(() => resolve())),
      delay(CLOSE_HANDSHAKE_MS),
    ]);
    for (const ws of wss.clients) ws.terminate();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    logger.info('gateway closed');
  }

  return { server, metrics, close };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Runs `act` on every item at a random moment within `spanMs`: a stopping gateway closes its sockets spread
 * over the drain time, so their reconnects do not arrive at the other gateways in one burst (issue 14).
 */
function spreadOver<T>(spanMs: number, items: T[], act: (item: T) => void): Promise<void> {
  if (spanMs <= 0) {
    items.forEach(act);
    return Promise.resolve();
  }
  return Promise.all(
    items.map(
      (item) =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            act(item);
            resolve();
          }, Math.random() * spanMs),
        ),
    ),
  ).then(() => undefined);
}

const refusal = (code: ErrorCode, message: string) => ({ error: { code, message } });

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
