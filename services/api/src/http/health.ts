import Router from '@koa/router';
import type { Registry } from 'prom-client';
import { probe, readinessReport } from '@pulse/runtime';

/** A dependency check resolves when the dependency answers and rejects (or times out) otherwise. */
export type Probe = () => Promise<unknown>;

export interface Readiness {
  /** Set by main.ts on SIGTERM so load balancers stop sending traffic before the drain. */
  draining: boolean;
}

/**
 * Without PostgreSQL the API serves nothing; without NATS (the outbox holds lifecycle events), Redis (login
 * limits) or ClickHouse (live results) it still serves most routes, so those only degrade readiness.
 */
export const REQUIRED_DEPENDENCIES = ['postgresql'] as const;

export function healthRoutes(probes: Record<string, Probe>, readiness: Readiness, metrics: Registry): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const names = Object.keys(probes);
    const results = await Promise.all(names.map((n) => probe(probes[n])));
    const { httpStatus, body } = readinessReport({
      draining: readiness.draining,
      checks: Object.fromEntries(names.map((n, i) => [n, results[i]])),
      required: REQUIRED_DEPENDENCIES,
    });
    ctx.status = httpStatus;
    ctx.body = body;
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.contentType;
    ctx.body = await metrics.metrics();
  });
  return router;
}
