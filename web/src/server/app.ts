import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ReadinessReport } from '@pulse/runtime';
import type { StaticFile } from './static-files.js';

/** Where the app is served, as by the API (services/api WEB_APP_PATH) and the Ingress `web`. */
export const WEB_APP_PATH = '/app';

export interface WebServerDeps {
  files: ReadonlyMap<string, StaticFile>;
  /** Set on SIGTERM: /readyz answers 503 so the endpoint leaves the Service first. */
  readiness: { draining: boolean };
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function send(res: ServerResponse, status: number, headers: Record<string, string>, body?: Buffer | string) {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers });
  res.end(body);
}

const json = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, { 'content-type': 'application/json' }, JSON.stringify(value));

/** The file a path below /app/ names: "/" is the single page; unknown paths are 404 (routes are #hashes). */
function lookUp(files: WebServerDeps['files'], rest: string): StaticFile | undefined {
  let key: string;
  try {
    key = decodeURIComponent(rest);
  } catch {
    return undefined;
  }
  return files.get(key.endsWith('/') ? `${key}index.html` : key);
}

/**
 * The web app's own server (k8s Deployment `web`): the built files at /app/, /healthz and /readyz in the
 * shape every Pulse service answers. Nothing else: the app talks to the API on the same host through the
 * Ingress, so this pod needs no route to anything.
 */
export function buildWebServer(deps: WebServerDeps): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://web.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }, 'method not allowed\n');
    }
    if (url.pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz') {
      const built = deps.files.has('/index.html');
      const body: ReadinessReport = {
        status: deps.readiness.draining ? 'draining' : built ? 'ready' : 'unavailable',
        checks: { build: built ? 'up' : 'down' },
        down: built ? [] : ['build'],
        degraded: [],
        details: { files: deps.files.size },
      };
      return json(res, body.status === 'ready' ? 200 : 503, body);
    }
    if (url.pathname === WEB_APP_PATH) return send(res, 301, { location: `${WEB_APP_PATH}/` });
    const file = url.pathname.startsWith(`${WEB_APP_PATH}/`)
      ? lookUp(deps.files, url.pathname.slice(WEB_APP_PATH.length))
      : undefined;
    if (!file) return send(res, 404, { 'content-type': 'text/plain' }, 'not found\n');
    const headers = {
      'content-type': file.contentType,
      'content-length': String(file.body.length),
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    return send(res, 200, headers, req.method === 'HEAD' ? undefined : file.body);
  };
}
