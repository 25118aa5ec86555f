import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { SERVICE_USERS, USERS_SECRET } from '../src/nats-permissions.js';
import { loadContracts } from './support/contracts.js';
import { K8S_DIR, OVERLAYS, REPO_ROOT } from './support/paths.js';
import { byKind, find, findGenerated, render } from './support/render.js';
import { serviceDefaults } from './support/settings.js';
import type { Container, K8sObject } from './support/types.js';

const rendered = new Map<string, K8sObject[]>();
const objectsOf = (dir: string): K8sObject[] => {
  if (!rendered.has(dir)) rendered.set(dir, render(dir));
  return rendered.get(dir)!;
};
const container = (objects: K8sObject[], name: string): Container =>
  find(objects, 'Deployment', name).spec.template.spec.containers[0];
const envValue = (c: Container, name: string): string | undefined =>
  c.env?.find((e) => e.name === name)?.value;
const preStopSeconds = (c: Container & { lifecycle?: { preStop?: { exec?: { command?: string[] } } } }) => {
  const cmd = c.lifecycle?.preStop?.exec?.command ?? [];
  return cmd[0] === 'sleep' ? Number(cmd[1]) : 0;
};

/** Deployments an HPA or a ScaledObject scales: their `replicas` belongs to the autoscaler. */
export function autoscaledWithReplicas(objects: K8sObject[]): string[] {
  const targets = [
    ...byKind(objects, 'HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name as string),
    ...byKind(objects, 'ScaledObject').map((s) => s.spec.scaleTargetRef.name as string),
  ];
  return byKind(objects, 'Deployment')
    .filter((d) => targets.includes(d.metadata!.name!) && d.spec.replicas !== undefined)
    .map((d) => `Deployment/${d.metadata?.name} has replicas: ${d.spec.replicas} but an autoscaler owns it`);
}

/** The JetStream limit settings per stream or bucket of the contracts (the services apply them). */
const LIMITS: Record<string, { age?: string; bytes: string }> = {
  ratingsStream: { age: 'NATS_RATINGS_MAX_AGE_SEC', bytes: 'NATS_RATINGS_MAX_BYTES' },
  eventsStream: { age: 'NATS_EVENTS_MAX_AGE_SEC', bytes: 'NATS_EVENTS_MAX_BYTES' },
  // A KV bucket's age is the lease TTL (ENGINE_LEASE_TTL_MS).
  enginesBucket: { bytes: 'NATS_ENGINES_KV_MAX_BYTES' },
  // Follow sets never age out (the last value is the truth).
  followsBucket: { bytes: 'NATS_FOLLOWS_KV_MAX_BYTES' },
  // Checkpoints never age out: each partition's object is replaced by the next one (issue 14).
  checkpointsBucket: { bytes: 'NATS_CHECKPOINTS_MAX_BYTES' },
};

const GIB = 1024 ** 3;
const quantityBytes = (q: string): number => {
  const m = /^(\d+)(Gi|Mi|Ti)$/.exec(q);
  if (!m) throw new Error(`unexpected quantity ${q}`);
  return Number(m[1]) * { Mi: 1024 ** 2, Gi: GIB, Ti: 1024 ** 4 }[m[2] as 'Mi' | 'Gi' | 'Ti'];
};

describe('operations rules (issue 14: manifests an operator can trust)', () => {
  for (const dir of OVERLAYS) {
    it(`${dir}: no autoscaled Deployment sets replicas (every apply would reset the autoscaler)`, () => {
      expect(autoscaledWithReplicas(objectsOf(dir))).to.deep.equal([]);
    });

    it(`${dir}: spreads api, gateway, live-engine and web over zones, then nodes`, () => {
      for (const name of ['api', 'gateway', 'live-engine', 'web']) {
        const spread = find(objectsOf(dir), 'Deployment', name).spec.template.spec
          .topologySpreadConstraints as {
          topologyKey: string;
          labelSelector: { matchLabels: Record<string, string> };
        }[];
        expect(
          spread.map((s) => s.topologyKey),
          name,
        ).to.deep.equal(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
        for (const s of spread) expect(s.labelSelector.matchLabels['app.kubernetes.io/name']).to.equal(name);
      }
    });

    it(`${dir}: stops every service within its grace period (preStop + drain + shutdown deadline)`, async () => {
      const defaults = await serviceDefaults();
      const objects = objectsOf(dir);
      const grace = (name: string) =>
        find(objects, 'Deployment', name).spec.template.spec.terminationGracePeriodSeconds as number;
      const gw = container(objects, 'gateway');
      const drainMs = Number(envValue(gw, 'GATEWAY_DRAIN_MS'));
      const publishMs = Number(envValue(gw, 'SHUTDOWN_TIMEOUT_MS') ?? defaults.gateway.SHUTDOWN_TIMEOUT_MS);
      expect(drainMs, 'GATEWAY_DRAIN_MS').to.be.at.least(10_000);
      expect(grace('gateway') * 1000).to.be.above(preStopSeconds(gw) * 1000 + drainMs + publishMs);
      const engineDeadlineMs = Number(
        envValue(container(objects, 'live-engine'), 'ENGINE_SHUTDOWN_DEADLINE_MS'),
      );
      expect(engineDeadlineMs, 'ENGINE_SHUTDOWN_DEADLINE_MS').to.be.above(0);
      expect(grace('live-engine') * 1000).to.be.at.least(engineDeadlineMs + 10_000);
      const api = container(objects, 'api');
      const apiMs = Number(envValue(api, 'SHUTDOWN_GRACE_MS') ?? defaults.api.SHUTDOWN_GRACE_MS);
      expect(grace('api') * 1000).to.be.above(preStopSeconds(api) * 1000 + apiMs);
    });

    it(`${dir}: replaces gateways one at a time, each ready for a while before the next stops`, () => {
      const objects = objectsOf(dir);
      const gw = find(objects, 'Deployment', 'gateway').spec;
      expect(gw.minReadySeconds).to.be.at.least(20);
      expect(gw.strategy.rollingUpdate).to.deep.equal({ maxSurge: 1, maxUnavailable: 0 });
      expect(find(objects, 'PodDisruptionBudget', 'gateway').spec.maxUnavailable).to.equal(1);
    });

    it(`${dir}: migrates as step 1 (Job + ConfigMap labelled), never inside an API pod, failing fast on locks`, () => {
      const objects = objectsOf(dir);
      const step = { 'pulse/rollout-step': 'migrate' };
      expect(find(objects, 'Job', 'pulse-migrate').metadata?.labels).to.include(step);
      expect(findGenerated(objects, 'ConfigMap', 'pulse-config').metadata?.labels).to.include(step);
      const labelled = objects.filter((o) => o.metadata?.labels?.['pulse/rollout-step'] === 'migrate');
      expect(labelled.map((o) => o.kind).sort()).to.deep.equal(['ConfigMap', 'Job']);
      expect(envValue(container(objects, 'api'), 'MIGRATE_ON_START')).to.equal('false');
      const job = find(objects, 'Job', 'pulse-migrate').spec.template.spec.containers[0] as Container;
      expect(envValue(job, 'PGOPTIONS')).to.match(/lock_timeout=\d+s/);
    });

    it(`${dir}: throttles every public path at the ingress, /v1/auth hardest`, () => {
      const ingresses = byKind(objectsOf(dir), 'Ingress');
      const rps = (name: string) =>
        Number(
          find(objectsOf(dir), 'Ingress', name).metadata?.annotations?.[
            'nginx.ingress.kubernetes.io/limit-rps'
          ],
        );
      for (const ing of ingresses) {
        const a = ing.metadata?.annotations ?? {};
        expect(Number(a['nginx.ingress.kubernetes.io/limit-rps']), ing.metadata?.name).to.be.above(0);
        expect(Number(a['nginx.ingress.kubernetes.io/limit-connections']), ing.metadata?.name).to.be.above(0);
      }
      const auth = find(objectsOf(dir), 'Ingress', 'api-auth');
      expect(auth.spec.rules[0].http.paths.map((p: { path: string }) => p.path)).to.deep.equal(['/v1/auth']);
      expect(rps('api-auth')).to.be.below(rps('api'));
    });
  }

  describe('k8s/overlays/production', () => {
    const objects = () => objectsOf('overlays/production');
    const config = () => findGenerated(objects(), 'ConfigMap', 'pulse-config').data ?? {};

    it('gives every stream and KV bucket of the contracts 3 replicas and byte and age limits', async () => {
      const names = (await loadContracts()).natsNames('pulse') as unknown as Record<string, unknown>;
      const stores = Object.keys(names).filter((k) => /Stream$|Bucket$/.test(k));
      expect(stores.sort(), 'a new stream or bucket needs its limits here').to.deep.equal(
        Object.keys(LIMITS).sort(),
      );
      expect(config().NATS_STREAM_REPLICAS).to.equal('3');
      for (const { age, bytes } of Object.values(LIMITS)) {
        expect(Number(config()[bytes]), bytes).to.be.above(0);
        if (age) expect(Number(config()[age]), age).to.be.above(0);
      }
    });

    it('keeps what the streams may hold within the NATS volumes, with a quarter to spare', () => {
      const values = parse(readFileSync(path.join(K8S_DIR, 'nats/values.yaml'), 'utf8'));
      const perNode = quantityBytes(values.config.jetstream.fileStore.pvc.size);
      // 3 replicas on 3 nodes: every node holds one copy of each stream.
      const perReplica = Object.values(LIMITS).reduce((sum, l) => sum + Number(config()[l.bytes]), 0);
      expect(perReplica).to.be.at.most(perNode * 0.75);
      expect(values.config.cluster.replicas).to.equal(3);
    });

    it('ages streams out in the contracts too (the limits the services apply by default)', async () => {
      const contracts = await loadContracts();
      for (const s of contracts.streamConfigs(contracts.natsNames('pulse'), 3)) {
        expect(s.max_age_ms, s.name).to.be.above(0);
      }
    });

    it('lets the Prometheus that KEDA and prometheus-adapter query scrape every service and read the rules', () => {
      const release = find(objects(), 'ServiceMonitor', 'pulse').metadata?.labels?.release;
      expect(release).to.be.a('string');
      for (const kind of ['PodMonitor', 'PrometheusRule']) {
        for (const o of byKind(objects(), kind))
          expect(o.metadata?.labels?.release, o.metadata?.name).to.equal(release);
      }
      const sm = find(objects(), 'ServiceMonitor', 'pulse').spec;
      const ports = sm.endpoints.map((e: { port: string }) => e.port);
      for (const name of ['api', 'gateway', 'live-engine']) {
        const svc = find(objects(), 'Service', name);
        const hit = (sm.selector.matchExpressions[0].values as string[]).includes(
          svc.metadata!.labels!['app.kubernetes.io/name'],
        );
        expect(hit, name).to.equal(true);
        expect(
          svc.spec.ports.some((p: { name: string }) => ports.includes(p.name)),
          name,
        ).to.equal(true);
      }
      const prometheus = 'prometheus-operated.monitoring.svc';
      for (const t of find(objects(), 'ScaledObject', 'live-engine').spec.triggers) {
        if (t.type === 'prometheus') expect(t.metadata.serverAddress).to.contain(prometheus);
      }
      const adapter = parse(
        readFileSync(
          path.join(K8S_DIR, 'components/gateway-connections-hpa/prometheus-adapter-values.yaml'),
          'utf8',
        ),
      );
      expect(adapter.prometheus.url).to.contain(prometheus);
    });

    it('alerts on lag, storage, lease moves, errors, rejected frames, event-loop lag, latency and restarts, each with a runbook entry', () => {
      const rules = find(objects(), 'PrometheusRule', 'pulse').spec.groups.flatMap(
        (g: { rules: { alert: string; expr: string; annotations: { runbook: string } }[] }) => g.rules,
      ) as { alert: string; expr: string; annotations: { runbook: string } }[];
      const covering = (metric: string) => rules.filter((r) => r.expr.includes(metric)).map((r) => r.alert);
      for (const metric of [
        'pulse_engine_consumer_pending',
        'nats_stream_total_bytes',
        'nats_server_max_storage',
        'pulse_engine_lease_moves_total',
        'pulse_api_http_request_duration_seconds_count',
        'pulse_gateway_frames_rejected_total',
        'nodejs_eventloop_lag_p99_seconds',
        'pulse_gateway_rating_to_rank_seconds_bucket',
        'kube_pod_container_status_restarts_total',
        'cnpg_collector_last_available_backup_timestamp',
      ]) {
        expect(covering(metric), metric).to.not.deep.equal([]);
      }
      const runbook = readFileSync(path.join(REPO_ROOT, 'docs/RUNBOOK.md'), 'utf8');
      const anchors = new Set(
        [...runbook.matchAll(/^#+ (.+)$/gm)].map((m) =>
          m[1]
            .toLowerCase()
            .replace(/[^\w\- ]/g, '')
            .replace(/ /g, '-'),
        ),
      );
      for (const r of rules) {
        const anchor = /^docs\/RUNBOOK\.md#(.+)$/.exec(r.annotations.runbook)?.[1];
        expect(anchor && anchors.has(anchor), `${r.alert} -> ${r.annotations.runbook}`).to.equal(true);
      }
    });

    it('backs PostgreSQL up continuously and daily to an object store with a secret reference', () => {
      const cluster = find(objects(), 'Cluster', 'pulse-postgres').spec;
      const store = cluster.backup.barmanObjectStore;
      expect(store.destinationPath).to.match(/^s3:\/\//);
      expect(store.s3Credentials.accessKeyId).to.deep.equal({
        name: 'pulse-backup-s3',
        key: 'ACCESS_KEY_ID',
      });
      expect(store.s3Credentials.secretAccessKey.name).to.equal('pulse-backup-s3');
      expect(cluster.backup.retentionPolicy).to.match(/^\d+d$/);
      const scheduled = byKind(objects(), 'ScheduledBackup');
      expect(scheduled.map((s) => s.spec.cluster.name)).to.deep.equal(['pulse-postgres']);
      expect(scheduled[0].spec.schedule.split(' ')).to.have.length(6);
    });

    it('keeps two ClickHouse replicas on a 3-node Keeper, spread over zones, with a daily backup', () => {
      const chi = find(objects(), 'ClickHouseInstallation', 'pulse-clickhouse').spec;
      expect(chi.configuration.clusters[0].layout.replicasCount).to.equal(2);
      const keeper = find(objects(), 'ClickHouseKeeperInstallation', 'pulse-keeper');
      expect(keeper.spec.configuration.clusters[0].layout.replicasCount).to.equal(3);
      expect(chi.configuration.zookeeper.nodes).to.deep.equal([{ host: 'keeper-pulse-keeper', port: 2181 }]);
      const spread = chi.templates.podTemplates[0].spec.topologySpreadConstraints;
      expect(spread[0].topologyKey).to.equal('topology.kubernetes.io/zone');
      const backup = find(objects(), 'CronJob', 'clickhouse-backup').spec;
      expect(backup.schedule).to.be.a('string');
      expect(backup.jobTemplate.spec.template.spec.containers[0].command.join(' ')).to.match(
        /BACKUP DATABASE pulse TO S3/,
      );
      expect(config().CLICKHOUSE_CLUSTER).to.equal(chi.configuration.clusters[0].name);
    });

    it('connects every service to NATS as its own user, password from the users Secret', () => {
      for (const name of ['api', 'gateway', 'live-engine']) {
        const env = container(objects(), name).env ?? [];
        const user = env.find((e) => e.name === 'NATS_USER')?.value;
        expect(SERVICE_USERS as readonly (string | undefined)[], name).to.include(user);
        expect(env.find((e) => e.name === 'NATS_PASSWORD')?.valueFrom).to.deep.equal({
          secretKeyRef: { name: USERS_SECRET, key: user },
        });
      }
      const users = (['api', 'gateway', 'live-engine'] as const).map((n) =>
        envValue(container(objects(), n), 'NATS_USER'),
      );
      expect(new Set(users).size).to.equal(3);
    });

    it('trusts exactly the one ingress hop for client addresses', () => {
      expect(config().TRUST_PROXY).to.equal('1');
    });

    it('spreads NATS over zones and nodes', () => {
      const values = parse(readFileSync(path.join(K8S_DIR, 'nats/values.yaml'), 'utf8'));
      expect(Object.keys(values.podTemplate.topologySpreadConstraints)).to.include.members([
        'topology.kubernetes.io/zone',
        'kubernetes.io/hostname',
      ]);
    });
  });

  describe('the operations checks themselves', () => {
    it('report a replicas field under an HPA or a ScaledObject, not on a Deployment without one', () => {
      const objects = structuredClone(objectsOf('overlays/production'));
      find(objects, 'Deployment', 'gateway').spec.replicas = 3;
      find(objects, 'Deployment', 'live-engine').spec.replicas = 2;
      find(objects, 'Deployment', 'redis').spec.replicas = 1;
      expect(autoscaledWithReplicas(objects)).to.deep.equal([
        'Deployment/gateway has replicas: 3 but an autoscaler owns it',
        'Deployment/live-engine has replicas: 2 but an autoscaler owns it',
      ]);
    });
  });
});
