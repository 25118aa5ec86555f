import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  httpLatency: Histogram<'method' | 'route' | 'status'>;
}

/** A registry per app (tests build several apps in one process) with default process metrics. */
export function createMetrics(): ApiMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'api' });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const httpLatency = new Histogram({
    name: 'pulse_api_http_request_duration_seconds',
    help: 'HTTP request latency by method, matched route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return { registry, httpLatency };
}
