import { expect } from 'chai';
import { OVERLAYS } from './support/paths.js';
import { byKind, find, findGenerated, render } from './support/render.js';
import { validateObject } from './support/validate.js';
import { envReferences, podLabels, podOwners, podPolicyViolations, selects } from './support/policies.js';
import type { K8sObject } from './support/types.js';

const rendered = new Map<string, K8sObject[]>();
const objectsOf = (dir: string): K8sObject[] => {
  if (!rendered.has(dir)) rendered.set(dir, render(dir));
  return rendered.get(dir)!;
};

for (const dir of OVERLAYS) {
  describe(`k8s/${dir} rendered with kubectl kustomize`, () => {
    it('renders to objects that all validate against their schemas', async () => {
      const objects = objectsOf(dir);
      expect(objects.length).to.be.greaterThan(10);
      const errors = (await Promise.all(objects.map(validateObject))).flat();
      expect(errors).to.deep.equal([]);
    });

    it('puts every namespaced object in the pulse namespace', () => {
      const stray = objectsOf(dir).filter((o) => o.kind !== 'Namespace' && o.metadata?.namespace !== 'pulse');
      expect(stray.map((o) => `${o.kind}/${o.metadata?.name}`)).to.deep.equal([]);
    });

    it('gives every container probes, resources and a locked-down security context', () => {
      expect(podPolicyViolations(objectsOf(dir))).to.deep.equal([]);
    });

    it('runs api, gateway and live-engine as Deployments probing /healthz and /readyz', () => {
      for (const name of ['api', 'gateway', 'live-engine']) {
        const c = find(objectsOf(dir), 'Deployment', name).spec.template.spec.containers[0];
        expect(c.livenessProbe.httpGet.path, name).to.equal('/healthz');
        expect(c.readinessProbe.httpGet.path, name).to.equal('/readyz');
      }
    });

    it('points every Service, HPA, PDB and Ingress at something that exists', () => {
      const objects = objectsOf(dir);
      const workloads = podOwners(objects).filter((w) => w.longRunning);
      for (const svc of byKind(objects, 'Service')) {
        const target = workloads.find((w) => selects(svc.spec.selector, podLabels(w.obj)));
        expect(target, `Service/${svc.metadata?.name} selects no pods`).to.not.equal(undefined);
        const ports = target!.pod.containers.flatMap((c) => c.ports ?? []);
        for (const p of svc.spec.ports as { targetPort: string | number }[]) {
          const known = ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort);
          expect(known, `Service/${svc.metadata?.name} targetPort ${p.targetPort}`).to.equal(true);
        }
      }
      for (const hpa of byKind(objects, 'HorizontalPodAutoscaler')) {
        find(objects, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
      }
      for (const so of byKind(objects, 'ScaledObject'))
        find(objects, 'Deployment', so.spec.scaleTargetRef.name);
      for (const pdb of byKind(objects, 'PodDisruptionBudget')) {
        const hit = workloads.some((w) => selects(pdb.spec.selector.matchLabels, podLabels(w.obj)));
        expect(hit, `PodDisruptionBudget/${pdb.metadata?.name} selects no pods`).to.equal(true);
      }
      for (const ing of byKind(objects, 'Ingress')) {
        for (const rule of ing.spec.rules) {
          for (const p of rule.http.paths) {
            const svc = find(objects, 'Service', p.backend.service.name);
            const names = (svc.spec.ports as { name: string }[]).map((sp) => sp.name);
            expect(names).to.include(p.backend.service.port.name);
          }
        }
      }
    });

    it('references only ConfigMap keys that exist and Secrets the README tells operators to create', () => {
      const objects = objectsOf(dir);
      const config = findGenerated(objects, 'ConfigMap', 'pulse-config');
      for (const { owner, ref } of envReferences(objects)) {
        const [kind, name, key] = ref.split('/');
        if (kind === 'ConfigMap') {
          expect(name, owner).to.equal(config.metadata?.name);
          if (key !== '*') expect(config.data).to.have.property(key);
        } else {
          expect(
            ['pulse-secrets', 'pulse-postgres-app', 'pulse-nats-users'],
            `${owner} -> ${ref}`,
          ).to.include(name);
        }
      }
    });

    it('serves the WebSocket on /v1/live through nginx with hour-long timeouts over HTTP/1.1', () => {
      const ing = find(objectsOf(dir), 'Ingress', 'gateway');
      const a = ing.metadata?.annotations ?? {};
      expect(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout'])).to.be.at.least(3600);
      expect(Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout'])).to.be.at.least(3600);
      expect(a['nginx.ingress.kubernetes.io/proxy-http-version']).to.equal('1.1');
      const paths = ing.spec.rules.flatMap((r: { http: { paths: unknown[] } }) => r.http.paths);
      expect(paths).to.deep.include({
        path: '/v1/live',
        pathType: 'Prefix',
        backend: { service: { name: 'gateway', port: { name: 'http' } } },
      });
    });

    it('keeps /metrics and the health endpoints off the public Ingress', () => {
      const paths = byKind(objectsOf(dir), 'Ingress').flatMap((i) =>
        i.spec.rules.flatMap((r: { http: { paths: { path: string }[] } }) => r.http.paths.map((p) => p.path)),
      );
      expect(paths).to.not.include('/');
      expect(paths.filter((p: string) => /metrics|healthz|readyz/.test(p))).to.deep.equal([]);
    });

    it('denies all traffic to Pulse pods except what a policy allows', () => {
      const objects = objectsOf(dir);
      const deny = find(objects, 'NetworkPolicy', 'pulse-default-deny');
      expect(deny.spec.policyTypes).to.have.members(['Ingress', 'Egress']);
      expect(deny.spec.ingress ?? []).to.deep.equal([]);
      const engineIn = find(objects, 'NetworkPolicy', 'live-engine-ingress');
      const from = engineIn.spec.ingress.flatMap((r: { from: unknown[] }) => r.from);
      expect(from).to.deep.equal([
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
      ]);
    });

    it('gives gateways and engines their pod name as identity', () => {
      const env = (name: string) =>
        find(objectsOf(dir), 'Deployment', name).spec.template.spec.containers[0].env;
      expect(env('gateway')).to.deep.include({
        name: 'GATEWAY_ID',
        valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
      });
      expect(env('live-engine')).to.deep.include({
        name: 'ENGINE_ID',
        valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
      });
    });
  });
}

describe('k8s/overlays/production', () => {
  const objects = () => objectsOf('overlays/production');

  it('replicates the NATS streams three times', () => {
    expect(findGenerated(objects(), 'ConfigMap', 'pulse-config').data?.NATS_STREAM_REPLICAS).to.equal('3');
  });

  it('runs at least three replicas of every service through its autoscaler', () => {
    const minimum = (name: string) =>
      byKind(objects(), 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === name)?.spec
        .minReplicas ??
      byKind(objects(), 'ScaledObject').find((s) => s.spec.scaleTargetRef.name === name)?.spec
        .minReplicaCount;
    for (const name of ['api', 'gateway', 'live-engine']) expect(minimum(name), name).to.be.at.least(3);
  });

  it('scales gateways up to 20 on CPU and open connections', () => {
    const hpa = find(objects(), 'HorizontalPodAutoscaler', 'gateway');
    expect(hpa.spec.maxReplicas).to.equal(20);
    const names = hpa.spec.metrics.map(
      (m: { resource?: { name: string }; pods?: { metric: { name: string } } }) =>
        m.resource?.name ?? m.pods?.metric.name,
    );
    expect(names).to.have.members(['cpu', 'pulse_gateway_open_connections']);
  });

  it('lets KEDA alone scale the engines', () => {
    const hpas = byKind(objects(), 'HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name);
    expect(hpas).to.not.include('live-engine');
  });

  it('pins image tags and ships no Secret values', () => {
    for (const { pod } of podOwners(objects())) {
      for (const c of pod.containers)
        expect(c.image, c.name)
          .to.match(/:[\w.-]+$/)
          .and.not.match(/:latest$/);
    }
    expect(byKind(objects(), 'Secret')).to.deep.equal([]);
  });

  it('brings PostgreSQL and ClickHouse through their operators', () => {
    expect(find(objects(), 'Cluster', 'pulse-postgres').spec.instances).to.be.at.least(3);
    find(objects(), 'ClickHouseInstallation', 'pulse-clickhouse');
  });
});

describe('k8s/overlays/dev', () => {
  const objects = () => objectsOf('overlays/dev');

  it('runs one replica of everything without autoscalers', () => {
    for (const d of byKind(objects(), 'Deployment')) expect(d.spec.replicas, d.metadata?.name).to.equal(1);
    expect(byKind(objects(), 'HorizontalPodAutoscaler')).to.deep.equal([]);
  });

  it('generates the Secrets with every key the pods read, all visibly dev-only', () => {
    for (const name of ['pulse-secrets', 'pulse-nats-users']) {
      const secret = find(objects(), 'Secret', name);
      const keys = Object.keys(secret.data ?? {});
      const read = envReferences(objects())
        .map((r) => r.ref.split('/'))
        .filter(([kind, secretName]) => kind === 'Secret' && secretName === name)
        .map(([, , key]) => key);
      expect(read.length, name).to.be.greaterThan(0);
      expect(keys, name).to.include.members([...new Set(read)]);
      for (const [k, v] of Object.entries(secret.data ?? {})) {
        expect(Buffer.from(v, 'base64').toString(), k).to.contain('dev');
      }
    }
  });
});

describe('the manifest checks themselves', () => {
  const api = () => structuredClone(find(objectsOf('base'), 'Deployment', 'api'));

  it('reject a Deployment that breaks the schema', async () => {
    const broken = api();
    broken.spec.replicas = 'three';
    delete broken.spec.selector;
    const errors = await validateObject(broken);
    expect(errors.join('\n'))
      .to.match(/replicas must be integer/)
      .and.match(/selector/);
  });

  it('reject an unknown custom resource and a ScaledObject without triggers', async () => {
    expect(
      await validateObject({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'x' } }),
    ).to.have.length(1);
    const so = structuredClone(find(objectsOf('overlays/production'), 'ScaledObject', 'live-engine'));
    so.spec.triggers = [];
    expect(await validateObject(so)).to.deep.equal([
      'ScaledObject/live-engine: spec.triggers must be a non-empty list',
    ]);
  });

  it('report a container without probes, limits or a read-only root filesystem', () => {
    const broken = api();
    const c = broken.spec.template.spec.containers[0];
    delete c.readinessProbe;
    delete c.resources.limits;
    c.securityContext.readOnlyRootFilesystem = false;
    expect(podPolicyViolations([broken])).to.have.members([
      'Deployment/api container api has no cpu limit',
      'Deployment/api container api has no memory limit',
      'Deployment/api container api has a writable root filesystem',
      'Deployment/api container api has no readiness probe',
      'Deployment/api container api readiness is not GET /readyz',
    ]);
  });
});
