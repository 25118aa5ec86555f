import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeCommandProblems, parseDockerfile } from './support/dockerfile.js';
import { K8S_DIR, OVERLAYS, REPO_ROOT } from './support/paths.js';
import { byKind, find, render } from './support/render.js';
import { podPolicyViolations } from './support/policies.js';
import type { Container, K8sObject } from './support/types.js';

const rendered = new Map<string, K8sObject[]>();
const objectsOf = (dir: string): K8sObject[] => {
  if (!rendered.has(dir)) rendered.set(dir, render(dir));
  return rendered.get(dir)!;
};
const webContainer = (objects: K8sObject[]): Container =>
  find(objects, 'Deployment', 'web').spec.template.spec.containers[0];
const webOnly = (objects: K8sObject[]) =>
  objects.filter((o) => o.kind === 'Deployment' && o.metadata?.name === 'web');
const ingressPaths = (ing: K8sObject) =>
  ing.spec.rules.flatMap((r: { host: string; http: { paths: { path: string }[] } }) =>
    r.http.paths.map((p) => ({ host: r.host, ...p })),
  );

/** The web server's settings: its compiled config module parsing an empty environment. */
async function webDefaults(): Promise<Record<string, unknown>> {
  const file = path.join(REPO_ROOT, 'web/dist/src/server/config.js');
  const mod = (await import(pathToFileURL(file).href)) as {
    loadConfig: (env: Record<string, string>) => Record<string, unknown>;
  };
  return { ...mod.loadConfig({}) };
}

describe('the reference web app in k8s (issue 15: its own Deployment)', () => {
  for (const dir of OVERLAYS) {
    describe(`k8s/${dir}`, () => {
      it('runs web as its own Deployment with probes, requests, limits and a locked-down pod', () => {
        const objects = objectsOf(dir);
        expect(podPolicyViolations(webOnly(objects))).to.deep.equal([]);
        const c = webContainer(objects);
        const port = c.ports?.find((p) => p.name === 'http')?.containerPort;
        expect(c.livenessProbe?.httpGet?.path).to.equal('/healthz');
        expect(c.readinessProbe?.httpGet?.path).to.equal('/readyz');
        expect(c.readinessProbe?.httpGet?.port).to.equal('http');
        expect(c.env?.find((e) => e.name === 'WEB_PORT')?.value).to.equal(String(port));
        expect(find(objects, 'Deployment', 'web').spec.template.spec.automountServiceAccountToken).to.equal(
          false,
        );
      });

      it('gives the container only settings the web server reads', async () => {
        const known = await webDefaults();
        const names = (webContainer(objectsOf(dir)).env ?? []).map((e) => e.name);
        expect(names.filter((n) => !(n in known))).to.deep.equal([]);
        expect(webContainer(objectsOf(dir)).envFrom ?? []).to.deep.equal([]);
      });

      it('routes /app on the API host to it, rate-limited, so the app calls /v1 on its own origin', () => {
        const objects = objectsOf(dir);
        const web = ingressPaths(find(objects, 'Ingress', 'web'));
        const apiHosts = ingressPaths(find(objects, 'Ingress', 'api')).map((p: { host: string }) => p.host);
        expect(web).to.have.length(1);
        expect(web[0]).to.deep.include({
          path: '/app',
          pathType: 'Prefix',
          backend: { service: { name: 'web', port: { name: 'http' } } },
        });
        expect(apiHosts).to.include(web[0].host);
        const a = find(objects, 'Ingress', 'web').metadata?.annotations ?? {};
        expect(Number(a['nginx.ingress.kubernetes.io/limit-rps'])).to.be.within(1, 50);
      });

      it('admits traffic to web pods from the ingress controller only, on the container port', () => {
        const objects = objectsOf(dir);
        const policy = find(objects, 'NetworkPolicy', 'web-ingress');
        expect(policy.spec.podSelector.matchLabels['app.kubernetes.io/name']).to.equal('web');
        expect(policy.spec.ingress).to.deep.equal([
          {
            from: [
              { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
            ],
            ports: [{ protocol: 'TCP', port: webContainer(objects).ports![0].containerPort }],
          },
        ]);
      });

      it('keeps at most one web pod down at a time and no autoscaler owns its fixed count', () => {
        const objects = objectsOf(dir);
        expect(find(objects, 'PodDisruptionBudget', 'web').spec.maxUnavailable).to.equal(1);
        const scaled = [
          ...byKind(objects, 'HorizontalPodAutoscaler'),
          ...byKind(objects, 'ScaledObject'),
        ].map((o) => o.spec.scaleTargetRef.name);
        expect(scaled).to.not.include('web');
        const replicas = find(objects, 'Deployment', 'web').spec.replicas;
        expect(replicas).to.equal({ base: 2, 'overlays/dev': 1, 'overlays/production': 3 }[dir]);
      });
    });
  }

  it('names the web image like the services in each overlay', () => {
    expect(webContainer(objectsOf('overlays/dev')).image).to.equal('pulse/web:dev');
    expect(webContainer(objectsOf('overlays/production')).image).to.equal(
      'registry.example.com/pulse/web:0.1.0',
    );
  });

  it('builds a non-root web image without node_modules that runs the compiled static server', () => {
    const stages = parseDockerfile(readFileSync(path.join(K8S_DIR, 'Dockerfile'), 'utf8'));
    const web = stages.find((s) => s.name === 'web')!;
    const args = (op: string) => web.instructions.filter((i) => i.op === op).map((i) => i.args);
    expect(args('USER')).to.deep.equal(['10001:10001']);
    const port = webContainer(objectsOf('base')).ports![0].containerPort;
    expect(args('EXPOSE')).to.deep.equal([String(port)]);
    const cmd = JSON.parse(args('CMD')[0]) as string[];
    expect(cmd).to.deep.equal(['node', 'web/dist/src/server/main.js']);
    expect(nodeCommandProblems(cmd, REPO_ROOT)).to.deep.equal([]);
    expect(args('COPY').join('\n')).to.not.include('node_modules');
    expect(args('COPY').join('\n')).to.include('web/dist/app');
    const api = stages.find((s) => s.name === 'api')!;
    expect(api.instructions.map((i) => i.args).join('\n'), 'one server for the app').to.not.include(
      'web/dist/app',
    );
  });
});
