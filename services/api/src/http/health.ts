import Router from '@koa/router';
import type { Registry } from 'prom-client';

/** A dependency check resolves when the dependency answers and rejects (or times out) otherwise. */
export type Probe = () => Promise<unknown>;
export const PROBE_TIMEOUT_MS = 1_000;

export interface Readiness {
  /** Set by main.ts on SIGTERM so load balancers stop sending traffic before the drain. */
  draining: boolean;
}

async function probe(check: Probe): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(probes: Record<string, Probe>, readiness: Readiness, metrics: Registry): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const names = Object.keys(probes);
    const results = await Promise.all(names.map((n) => probe(probes[n])));
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i] ? 'up' : 'down']));
    const down = names.filter((_, i) => !results[i]);
    const ready = down.length === 0 && !readiness.draining;
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : readiness.draining ? 'draining' : 'unavailable', checks, down };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.contentType;
    ctx.body = await metrics.metrics();
  });
  return router;
}
