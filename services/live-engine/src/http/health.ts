import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../app.js';

/** /healthz (alive), /readyz (dependencies and what is degraded), /metrics (Prometheus text). */
export function healthHandler(engine: Engine) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void respond(engine, req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error' } }));
      void err;
    });
  };
}

async function respond(engine: Engine, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET') return send(res, 405, { error: { code: 'NOT_FOUND', message: 'GET only' } });
  if (path === '/healthz') return send(res, 200, { status: 'ok' });
  if (path === '/readyz') {
    const { httpStatus, body } = await engine.health();
    return send(res, httpStatus, body);
  }
  if (path === '/metrics') {
    const body = await engine.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': engine.metrics.registry.contentType });
    res.end(body);
    return;
  }
  send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${path}` } });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
