import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { K8S_DIR } from './support/paths.js';

/** The metric names the services must expose (k8s/README.md lists them with their labels). */
const METRICS = [
  'pulse_api_http_request_duration_seconds',
  'pulse_gateway_open_connections',
  'pulse_gateway_ratings_received_total',
  'pulse_gateway_ratings_published_total',
  'pulse_gateway_frames_rejected_total',
  'pulse_gateway_publish_latency_seconds',
  'pulse_engine_consumer_pending',
  'pulse_engine_live_actors',
  'pulse_engine_rank_compute_seconds',
  'pulse_engine_clickhouse_batch_rows',
  'pulse_engine_clickhouse_insert_seconds',
  'nodejs_eventloop_lag_seconds',
];

interface Panel {
  type: string;
  title: string;
  id: number;
  targets?: { expr: string }[];
}

describe('k8s/grafana/pulse-dashboard.json', () => {
  const dashboard = () =>
    JSON.parse(readFileSync(path.join(K8S_DIR, 'grafana/pulse-dashboard.json'), 'utf8')) as {
      uid: string;
      panels: Panel[];
    };

  it('charts every metric the README names, each panel with a query', () => {
    const panels = dashboard().panels.filter((p) => p.type !== 'row');
    const exprs = panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    for (const p of panels) expect(p.targets?.length, p.title).to.be.greaterThan(0);
    for (const m of METRICS)
      expect(
        exprs.some((e) => e.includes(m)),
        m,
      ).to.equal(true);
    const readme = readFileSync(path.join(K8S_DIR, 'README.md'), 'utf8');
    for (const m of METRICS) expect(readme, m).to.contain(`\`${m}\``);
  });

  it('gives every panel a unique id', () => {
    const ids = dashboard().panels.map((p) => p.id);
    expect(new Set(ids).size).to.equal(ids.length);
  });
});
