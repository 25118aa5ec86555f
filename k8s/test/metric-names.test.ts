import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { K8S_DIR, REPO_ROOT } from './support/paths.js';
import { metricsInPromQL, seriesNames, type MetricUse } from './support/promql.js';

/** The part of a prom-client Registry this test reads (the services' own prom-client instance builds it). */
interface Registry {
  getMetricsAsJSON(): Promise<{ name: string; type: string }[]>;
  metrics(): Promise<string>;
}

type Service = 'api' | 'gateway' | 'live-engine';

/** Builds each service's registry from its compiled metrics module, exactly as the service does. */
const REGISTRIES: Record<Service, { module: string; build: (m: Record<string, unknown>) => Registry }> = {
  api: {
    module: 'services/api/dist/src/http/metrics.js',
    build: (m) => (m.createMetrics as () => { registry: Registry })().registry,
  },
  gateway: {
    module: 'services/gateway/dist/src/metrics.js',
    build: (m) => (m.createMetrics as () => { registry: Registry })().registry,
  },
  'live-engine': {
    module: 'services/live-engine/dist/src/metrics.js',
    build: (m) => new (m.EngineMetrics as new () => { registry: Registry })().registry,
  },
};

async function registryOf(service: Service): Promise<Registry> {
  const file = path.join(REPO_ROOT, REGISTRIES[service].module);
  if (!existsSync(file)) throw new Error(`${file} is missing: build the services first (npx tsc -b)`);
  return REGISTRIES[service].build((await import(pathToFileURL(file).href)) as Record<string, unknown>);
}

/** Every query of the dashboard, the KEDA ScaledObject and the prometheus-adapter rule, with where it is. */
function queries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const dashboard = JSON.parse(readFileSync(path.join(K8S_DIR, 'grafana/pulse-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating?: { list: { name: string; query?: string | { query: string } }[] };
  };
  for (const p of dashboard.panels)
    for (const t of p.targets ?? []) out.push({ where: `dashboard panel "${p.title}"`, expr: t.expr });
  for (const v of dashboard.templating?.list ?? []) {
    const q = typeof v.query === 'object' ? v.query.query : v.query;
    if (q && /\(/.test(q)) out.push({ where: `dashboard variable ${v.name}`, expr: q });
  }
  const keda = parseAllDocuments(
    readFileSync(path.join(K8S_DIR, 'components/keda/scaledobject.yaml'), 'utf8'),
  );
  for (const doc of keda) {
    const triggers = (doc.toJS() as { spec: { triggers: { type: string; metadata: { query?: string } }[] } })
      .spec.triggers;
    for (const t of triggers)
      if (t.type === 'prometheus') out.push({ where: 'KEDA ScaledObject', expr: t.metadata.query! });
  }
  const adapterDir = path.join(K8S_DIR, 'components/gateway-connections-hpa');
  const adapter = parse(readFileSync(path.join(adapterDir, 'prometheus-adapter-values.yaml'), 'utf8')) as {
    rules: { custom: { seriesQuery: string; metricsQuery: string; name: { matches: string; as: string } }[] };
  };
  for (const r of adapter.rules.custom) {
    out.push({ where: 'prometheus-adapter seriesQuery', expr: r.seriesQuery });
    out.push({ where: 'prometheus-adapter metricsQuery', expr: r.metricsQuery });
    out.push({ where: 'prometheus-adapter name.matches', expr: r.name.matches.replace(/^\^|\$$/g, '') });
  }
  // The HPA reads the adapter's metric by the name the adapter gives it.
  const hpa = readFileSync(path.join(adapterDir, 'kustomization.yaml'), 'utf8');
  for (const m of hpa.matchAll(/metric:\s*\{\s*name:\s*([\w:]+)/g))
    out.push({ where: 'gateway HPA', expr: m[1] });
  for (const rule of alertRules()) out.push({ where: `PrometheusRule alert ${rule.alert}`, expr: rule.expr });
  return out;
}

/** The alert rules of components/alerts. */
function alertRules(): { alert: string; expr: string }[] {
  const file = path.join(K8S_DIR, 'components/alerts/prometheusrule.yaml');
  const rule = parse(readFileSync(file, 'utf8')) as {
    spec: { groups: { rules: { alert: string; expr: string }[] }[] };
  };
  return rule.spec.groups.flatMap((g) => g.rules);
}

/**
 * Metrics of the dependencies that alert rules may read, each from the exporter that really exposes it.
 * Everything else an alert, the dashboard, KEDA or the adapter reads must be registered by a Pulse service.
 */
const DEPENDENCY_METRICS: Record<string, string> = {
  // prometheus-nats-exporter as the NATS chart runs it (-prefix=nats -jsz=all): collector/jsz.go.
  nats_stream_total_bytes: 'NATS exporter',
  nats_stream_limit_bytes: 'NATS exporter',
  nats_server_total_message_bytes: 'NATS exporter',
  nats_server_max_storage: 'NATS exporter',
  kube_pod_container_status_restarts_total: 'kube-state-metrics',
  cnpg_collector_last_available_backup_timestamp: 'CloudNativePG',
  up: 'Prometheus',
};

/** Uses of a metric no service registers (or not the service the query filters on). */
function unregistered(uses: (MetricUse & { where: string })[], exposed: Map<string, Set<Service>>): string[] {
  return uses
    .filter((u) => {
      if (u.where.startsWith('PrometheusRule') && DEPENDENCY_METRICS[u.name]) return false;
      const by = exposed.get(u.name);
      return !by || (u.service !== undefined && !by.has(u.service as Service));
    })
    .map((u) => `${u.where}: ${u.name}${u.service ? `{service="${u.service}"}` : ''}`);
}

describe('metric names in the dashboard, KEDA, prometheus-adapter and the alert rules', () => {
  const exposed = new Map<string, Set<Service>>();

  before(async () => {
    for (const service of Object.keys(REGISTRIES) as Service[]) {
      const registry = await registryOf(service);
      for (const metric of await registry.getMetricsAsJSON())
        for (const series of seriesNames(metric)) {
          if (!exposed.has(series)) exposed.set(series, new Set());
          exposed.get(series)!.add(service);
        }
    }
  });

  it('reads every metric name out of a query, not function names, labels or variables', () => {
    const names = (e: string) =>
      metricsInPromQL(e).map((u) => (u.service ? `${u.name}@${u.service}` : u.name));
    expect(
      names(
        'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{namespace="$namespace", service="api"}[$__rate_interval])))',
      ),
    ).to.deep.equal(['a_bucket@api']);
    expect(names('sum(b) / sum by (pod) (rate(c_total{x="y"}[5m])) and on(pod) d')).to.deep.equal([
      'c_total',
      'b',
      'd',
    ]);
    expect(names('sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)')).to.deep.equal([]);
    expect(names('label_values(e, namespace)')).to.deep.equal(['e']);
  });

  it('finds queries in every source (dashboard panels and variable, KEDA, adapter, HPA)', () => {
    const wheres = new Set(queries().map((q) => q.where.replace(/ panel ".*"| variable .*| alert .*/, '')));
    expect([...wheres].sort()).to.deep.equal([
      'KEDA ScaledObject',
      'PrometheusRule',
      'dashboard',
      'gateway HPA',
      'prometheus-adapter metricsQuery',
      'prometheus-adapter name.matches',
      'prometheus-adapter seriesQuery',
    ]);
  });

  it('every metric they query is registered by a service (by the one the query names)', () => {
    const uses = queries().flatMap((q) => metricsInPromQL(q.expr).map((u) => ({ ...u, where: q.where })));
    expect(uses.length).to.be.greaterThan(30);
    expect(unregistered(uses, exposed)).to.deep.equal([]);
  });

  it('reports a misspelt metric, a bare histogram name and the wrong service', () => {
    const uses = [
      { where: 'x', name: 'pulse_gateway_open_conections' },
      { where: 'y', name: 'pulse_engine_rank_compute_seconds' },
      { where: 'z', name: 'pulse_gateway_publish_latency_seconds_bucket', service: 'api' },
      { where: 'ok', name: 'pulse_engine_rank_compute_seconds_bucket', service: 'live-engine' },
      { where: 'PrometheusRule alert ok', name: 'nats_stream_total_bytes' },
      { where: 'PrometheusRule alert a', name: 'nats_stream_totl_bytes' },
      { where: 'dashboard panel "b"', name: 'nats_stream_total_bytes' },
    ];
    expect(unregistered(uses, exposed)).to.deep.equal([
      'x: pulse_gateway_open_conections',
      'y: pulse_engine_rank_compute_seconds',
      'z: pulse_gateway_publish_latency_seconds_bucket{service="api"}',
      'PrometheusRule alert a: nats_stream_totl_bytes',
      'dashboard panel "b": nats_stream_total_bytes',
    ]);
  });

  it("labels every series of every service with its service name and exposes the issue's list", async () => {
    const issueList: Record<Service, string[]> = {
      api: ['pulse_api_http_request_duration_seconds_bucket'],
      gateway: [
        'pulse_gateway_open_connections',
        'pulse_gateway_ratings_received_total',
        'pulse_gateway_ratings_published_total',
        'pulse_gateway_frames_rejected_total',
        'pulse_gateway_publish_latency_seconds_bucket',
      ],
      'live-engine': [
        'pulse_engine_consumer_pending',
        'pulse_engine_live_actors',
        'pulse_engine_rank_compute_seconds_bucket',
        'pulse_engine_clickhouse_batch_rows_bucket',
        'pulse_engine_clickhouse_insert_seconds_bucket',
      ],
    };
    for (const service of Object.keys(REGISTRIES) as Service[]) {
      for (const name of [...issueList[service], 'nodejs_eventloop_lag_p99_seconds'])
        expect([...(exposed.get(name) ?? [])], name).to.include(service);
      const samples = (await (await registryOf(service)).metrics())
        .split('\n')
        .filter((l) => l && !l.startsWith('#'));
      expect(samples.length, service).to.be.greaterThan(10);
      expect(
        samples.filter((l) => !l.includes(`service="${service}"`)),
        service,
      ).to.deep.equal([]);
    }
  });
});
