import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  CloseCode,
  ErrorCode,
  LIVE_PATH,
  MAX_SOCKET_PAYLOAD_BYTES,
  natsNames,
  redactQuery,
} from '@pulse/contracts';
import type { GatewayConfig } from './config.js';
import { Connection } from './connection.js';
import { errorCodeOf, errorFrame } from './errors.js';
import { createMetrics, type GatewayMetrics } from './metrics.js';
import { Publisher } from './publisher.js';
import { LocalSessions } from './sessions.js';
import { verifyJoinTicket } from './tickets.js';

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

/** How long clients get to answer the 1012 close handshake before their sockets are cut. */
const CLOSE_HANDSHAKE_MS = 2_000;

export function buildGateway({ config, nc, jsm, logger }: GatewayDeps): Gateway {
  const names = natsNames(config.NATS_NAMESPACE);
  const metrics = createMetrics();
  const publisher = new Publisher(
    jetstream(nc),
    {
      windowSize: config.PUBLISH_WINDOW,
      queueMax: config.PUBLISH_QUEUE_MAX,
      timeoutMs: config.PUBLISH_TIMEOUT_MS,
    },
    metrics,
  );
  const sessions = new LocalSessions({
    nc,
    names,
    gatewayId: config.GATEWAY_ID,
    presenceIntervalMs: config.PRESENCE_INTERVAL_MS,
    rating: { ratePerSec: config.RATING_RATE_PER_SEC, burst: config.RATING_BURST },
    metrics,
    logger,
  });
  const connectionDeps = {
    jsm,
    names,
    publisher,
    sessions,
    metrics,
    logger,
    sendBufferLowBytes: config.SEND_BUFFER_LOW_BYTES,
    sendBufferMaxBytes: config.SEND_BUFFER_MAX_BYTES,
    slowConsumerMs: config.SLOW_CONSUMER_MS,
  };
  const connections = new Set<Connection>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_SOCKET_PAYLOAD_BYTES });
  let draining = false;
  let natsUp = !nc.isClosed();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') natsUp = false;
      if (status.type === 'reconnect') natsUp = true;
    }
  })();

  const server = createServer((req, res) => void route(req, res));
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    if (req.method === 'GET' && path === '/healthz') return json(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/readyz') {
      if (draining) return json(res, 503, { status: 'draining' });
      const up = natsUp && !nc.isClosed();
      return json(res, up ? 200 : 503, up ? { status: 'ok' } : { status: 'unavailable', down: ['nats'] });
    }
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    json(res, 404, { error: { code: ErrorCode.NOT_FOUND, message: `no route ${req.method} ${path}` } });
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (draining || url.pathname !== LIVE_PATH) {
      socket.end(`HTTP/1.1 ${draining ? '503 Service Unavailable' : '404 Not Found'}\r\n\r\n`);
      return;
    }
    // The URL carries the join ticket: only its redacted form is ever logged.
    logger.debug({ url: redactQuery(req.url ?? '/') }, 'websocket upgrade');
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, url.searchParams.get('ticket')));
  });

  function accept(ws: WebSocket, ticket: string | null): void {
    let claims;
    try {
      claims = verifyJoinTicket(ticket, config.JOIN_TICKET_SECRET, Date.now());
    } catch (err) {
      logger.debug({ code: errorCodeOf(err), reason: (err as Error).message }, 'join ticket refused');
      metrics.framesRejected.inc({ code: errorCodeOf(err) });
      ws.send(errorFrame(err));
      ws.close(CloseCode.UNAUTHORIZED);
      return;
    }
    const connection = new Connection(ws, claims, connectionDeps);
    connections.add(connection);
    ws.once('close', () => connections.delete(connection));
    void connection.start();
  }

  async function close(): Promise<void> {
    if (draining) return;
    draining = true;
    sessions.stop();
    for (const connection of connections) connection.close(CloseCode.RECONNECT);
    await Promise.race([publisher.idle(), delay(config.SHUTDOWN_TIMEOUT_MS)]);
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

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
