import type { Container, K8sObject, PodSpec } from './types.js';

/** The services built from this repository; they answer /healthz and /readyz. */
export const PULSE_SERVICES = ['api', 'gateway', 'live-engine'] as const;
const WORKLOADS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'];

export interface PodOwner {
  obj: K8sObject;
  pod: PodSpec;
  longRunning: boolean;
}

export function podOwners(objects: K8sObject[]): PodOwner[] {
  return objects
    .filter((o) => WORKLOADS.includes(o.kind))
    .map((obj) => ({ obj, pod: obj.spec?.template?.spec as PodSpec, longRunning: obj.kind !== 'Job' }));
}

const isPulseImage = (c: Container): boolean => /\/pulse\/|^pulse\//.test(c.image ?? '');

/** Every violation of the pod policies, one sentence each; empty when the objects comply. */
export function podPolicyViolations(objects: K8sObject[]): string[] {
  const out: string[] = [];
  for (const { obj, pod, longRunning } of podOwners(objects)) {
    const where = `${obj.kind}/${obj.metadata?.name}`;
    if (!pod?.containers?.length) {
      out.push(`${where} has no containers`);
      continue;
    }
    const podSec = pod.securityContext ?? {};
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      const at = `${where} container ${c.name}`;
      const sec = c.securityContext ?? {};
      for (const kind of ['requests', 'limits'] as const) {
        for (const res of ['cpu', 'memory']) {
          if (!c.resources?.[kind]?.[res]) out.push(`${at} has no ${res} ${kind.slice(0, -1)}`);
        }
      }
      if ((sec.runAsNonRoot ?? podSec.runAsNonRoot) !== true) out.push(`${at} may run as root`);
      if (sec.readOnlyRootFilesystem !== true) out.push(`${at} has a writable root filesystem`);
      if (sec.allowPrivilegeEscalation !== false) out.push(`${at} allows privilege escalation`);
      if (!sec.capabilities?.drop?.includes('ALL')) out.push(`${at} does not drop all capabilities`);
      if ((sec.seccompProfile ?? podSec.seccompProfile)?.type !== 'RuntimeDefault') {
        out.push(`${at} has no RuntimeDefault seccomp profile`);
      }
      if (isPulseImage(c)) {
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        const vol = pod.volumes?.find((v) => v.name === tmp?.name);
        if (!tmp || !vol?.emptyDir) out.push(`${at} has no emptyDir mounted at /tmp`);
      }
      if (!longRunning) continue;
      if (!c.livenessProbe) out.push(`${at} has no liveness probe`);
      if (!c.readinessProbe) out.push(`${at} has no readiness probe`);
      if (isPulseImage(c)) {
        if (c.livenessProbe?.httpGet?.path !== '/healthz') out.push(`${at} liveness is not GET /healthz`);
        if (c.readinessProbe?.httpGet?.path !== '/readyz') out.push(`${at} readiness is not GET /readyz`);
        for (const probe of [c.livenessProbe, c.readinessProbe]) {
          const port = probe?.httpGet?.port;
          const known = c.ports?.some((p) => p.name === port || p.containerPort === port);
          if (port !== undefined && !known) out.push(`${at} probes port ${port}, which it does not declare`);
        }
      }
    }
  }
  return out;
}

/** Env references to ConfigMaps/Secrets, as `kind/name/key` (key `*` for envFrom). */
export function envReferences(objects: K8sObject[]): { owner: string; ref: string }[] {
  const refs: { owner: string; ref: string }[] = [];
  for (const { obj, pod } of podOwners(objects)) {
    for (const c of pod.containers) {
      const owner = `${obj.kind}/${obj.metadata?.name}`;
      for (const e of c.envFrom ?? []) {
        if (e.configMapRef) refs.push({ owner, ref: `ConfigMap/${e.configMapRef.name}/*` });
        if (e.secretRef) refs.push({ owner, ref: `Secret/${e.secretRef.name}/*` });
      }
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        const m = e.valueFrom?.configMapKeyRef;
        if (s) refs.push({ owner, ref: `Secret/${s.name}/${s.key}` });
        if (m) refs.push({ owner, ref: `ConfigMap/${m.name}/${m.key}` });
      }
    }
  }
  return refs;
}

export function podLabels(o: K8sObject): Record<string, string> {
  return (o.spec?.template?.metadata?.labels ?? {}) as Record<string, string>;
}

export const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  !!selector &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);
