import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  baseImageProblems,
  dockerfileProblems,
  isIgnored,
  nodeCommandProblems,
  parseDockerfile,
} from './support/dockerfile.js';
import { K8S_DIR, REPO_ROOT } from './support/paths.js';
import { find, render } from './support/render.js';

const dockerfile = () => readFileSync(path.join(K8S_DIR, 'Dockerfile'), 'utf8');
const TARGETS = { api: 3000, gateway: 8080, 'live-engine': 8090 } as const;

describe('k8s/Dockerfile', () => {
  it('copies only paths that exist and runs only scripts and files the repository has', () => {
    expect(dockerfileProblems(dockerfile(), REPO_ROOT)).to.deep.equal([]);
  });

  it('has one non-root target per service that exposes the port its Deployment uses', () => {
    const stages = parseDockerfile(dockerfile());
    const deployments = render('base');
    for (const [target, port] of Object.entries(TARGETS)) {
      const stage = stages.find((s) => s.name === target);
      expect(stage, target).to.not.equal(undefined);
      const arg = (op: string) => stage!.instructions.filter((i) => i.op === op).map((i) => i.args);
      expect(arg('USER'), target).to.deep.equal(['10001:10001']);
      expect(arg('EXPOSE'), target).to.deep.equal([String(port)]);
      expect(arg('CMD'), target).to.deep.equal([`["node", "services/${target}/dist/src/main.js"]`]);
      const c = find(deployments, 'Deployment', target).spec.template.spec.containers[0];
      expect(c.ports[0].containerPort, target).to.equal(port);
    }
  });

  it('gives npm ci every workspace manifest, and each image the @pulse packages its service imports', () => {
    const stages = parseDockerfile(dockerfile());
    const args = (name: string, op: string) =>
      stages
        .find((st) => st.name === name)!
        .instructions.filter((i) => i.op === op)
        .map((i) => i.args);
    const rootManifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    const copied = args('manifests', 'COPY').join('\n');
    for (const ws of rootManifest.workspaces as string[]) {
      expect(copied, `${ws}/package.json in the manifests stage`).to.include(`${ws}/package.json`);
    }
    const runtimeCopies = args('runtime', 'COPY').join('\n');
    for (const target of Object.keys(TARGETS)) {
      const manifest = JSON.parse(
        readFileSync(path.join(REPO_ROOT, 'services', target, 'package.json'), 'utf8'),
      );
      const shared = Object.keys(manifest.dependencies).filter((d) => d.startsWith('@pulse/'));
      const install = args(`deps-${target}`, 'RUN').join(' ');
      for (const dep of shared) {
        const dir = `packages/${dep.slice('@pulse/'.length)}`;
        expect(install, `${target} installs ${dir}`).to.include(`-w ${dir}`);
        expect(runtimeCopies, `${target} ships ${dir}`).to.include(`${dir}/dist/src`);
      }
    }
  });

  it('installs only production dependencies into the images it ships', () => {
    const stages = parseDockerfile(dockerfile());
    for (const target of Object.keys(TARGETS)) {
      const deps = stages.find((s) => s.name === `deps-${target}`)!;
      expect(deps.instructions.find((i) => i.op === 'RUN')?.args).to.match(/npm ci --omit=dev/);
    }
  });

  it('runs the migration Job with a file the API build produces', () => {
    const job = find(render('base'), 'Job', 'pulse-migrate');
    expect(nodeCommandProblems(job.spec.template.spec.containers[0].command, REPO_ROOT)).to.deep.equal([]);
  });
});

describe('the Dockerfile checks themselves', () => {
  it('report an unsupported Node line, a floating tag and a missing digest', () => {
    const digest = 'a'.repeat(64);
    expect(baseImageProblems(`ARG NODE_IMAGE=node:24.11.1-bookworm-slim@sha256:${digest}`)).to.deep.equal([]);
    expect(baseImageProblems(`ARG NODE_IMAGE=node:20.19.5-bookworm-slim@sha256:${digest}`)).to.deep.equal([
      `NODE_IMAGE node:20.19.5-bookworm-slim@sha256:${digest}: Node 20 is unsupported`,
    ]);
    expect(baseImageProblems('ARG NODE_IMAGE=node:24-bookworm-slim')).to.have.length(1);
    expect(baseImageProblems('ARG NODE_IMAGE=node:24.11.1-bookworm-slim')).to.have.length(1);
    expect(baseImageProblems('FROM node:24')).to.deep.equal(['no ARG NODE_IMAGE']);
  });

  it('report a missing COPY source, an unknown script, a wrong workspace and a CMD without source', () => {
    const broken = [
      `ARG NODE_IMAGE=node:24.11.1-bookworm-slim@sha256:${'b'.repeat(64)}`,
      'FROM ${NODE_IMAGE} AS build',
      'COPY services/nope/package.json ./',
      'RUN npm run compile && npm ci -w services/nope',
      'FROM build AS app',
      'COPY --from=build /app/services/nope/dist/src services/nope/dist/src',
      'CMD ["node", "services/nope/dist/src/main.js"]',
    ].join('\n');
    expect(dockerfileProblems(broken, REPO_ROOT)).to.deep.equal([
      'line 3: COPY services/nope/package.json does not exist in the repository',
      'line 4: npm run compile: no such script in package.json',
      'line 4: services/nope is not an npm workspace',
      'line 6: /app/services/nope/dist/src would be built from services/nope/src, which does not exist',
      'line 6: stage build never builds /app/services/nope/dist/src',
      'line 7: node services/nope/dist/src/main.js: its source services/nope/src/main.ts does not exist',
    ]);
  });

  it('treat node_modules and dist as outside the build context, except what is re-included', () => {
    const patterns = ['**/node_modules', '**/dist', 'k8s/*', '!k8s/package.json'];
    expect(isIgnored('services/api/node_modules', patterns)).to.equal(true);
    expect(isIgnored('packages/contracts/dist/src/index.js', patterns)).to.equal(true);
    expect(isIgnored('k8s/Dockerfile', patterns)).to.equal(true);
    expect(isIgnored('k8s/package.json', patterns)).to.equal(false);
    expect(isIgnored('services/api/src/main.ts', patterns)).to.equal(false);
  });
});
