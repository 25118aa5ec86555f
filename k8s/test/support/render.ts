import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { K8S_DIR } from './paths.js';
import type { K8sObject } from './types.js';

export class KubectlMissingError extends Error {
  constructor(cause: unknown) {
    super(
      'kubectl is not installed (or not on PATH): the k8s tests render the overlays with `kubectl kustomize`. ' +
        'Install kubectl >= 1.27 (kustomize 5), e.g. from the Kubernetes apt repository. Cause: ' +
        String(cause),
    );
  }
}

/** Renders a kustomization directory (relative to k8s/) and parses every document. */
export function render(dir: string): K8sObject[] {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', path.join(K8S_DIR, dir)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 32 * 1024 * 1024,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new KubectlMissingError(err);
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr || String(err)}`);
  }
  return parseYamlObjects(out);
}

export function parseYamlObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0].message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export const byKind = (objects: K8sObject[], kind: string): K8sObject[] =>
  objects.filter((o) => o.kind === kind);

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in the rendered output`);
  return found;
}

/** The generated ConfigMap keeps its base name plus kustomize's content hash. */
export function findGenerated(objects: K8sObject[], kind: string, baseName: string): K8sObject {
  const found = objects.find(
    (o) => o.kind === kind && (o.metadata?.name === baseName || o.metadata?.name?.startsWith(`${baseName}-`)),
  );
  if (!found) throw new Error(`no ${kind} generated from ${baseName}`);
  return found;
}
