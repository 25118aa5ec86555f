import type { K8sObject } from './types.js';

/**
 * Schema validation of one rendered object. Built-in kinds go through kubernetes-models (the
 * Kubernetes OpenAPI schemas compiled to JSON-schema validators). The custom resources of the optional
 * components have no schema there: their apiVersion/kind must be one we know, and the fields their
 * operators require are checked by hand.
 */
export async function validateObject(obj: K8sObject): Promise<string[]> {
  const label = `${obj.kind ?? '?'}/${obj.metadata?.name ?? '?'}`;
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    return [`${label}: apiVersion and kind are required`];
  }
  if (!obj.metadata?.name) return [`${label}: metadata.name is required`];
  const custom = CUSTOM_RESOURCES[`${obj.apiVersion}/${obj.kind}`];
  if (custom) return custom(obj).map((e) => `${label}: ${e}`);
  if (obj.apiVersion.includes('.') && !obj.apiVersion.includes('k8s.io')) {
    return [`${label}: unknown custom resource ${obj.apiVersion} ${obj.kind}`];
  }
  let Model: new (data: unknown) => { validate(): void };
  try {
    const mod = (await import(`kubernetes-models/${obj.apiVersion}/${obj.kind}`)) as Record<string, unknown>;
    Model = mod[obj.kind] as typeof Model;
    if (typeof Model !== 'function') throw new Error('no model class');
  } catch {
    return [`${label}: no Kubernetes schema for ${obj.apiVersion} ${obj.kind}`];
  }
  try {
    new Model(normalize(obj)).validate();
    return [];
  } catch (err) {
    return [`${label}: ${(err as Error).message}`];
  }
}

/**
 * kustomize wraps long base64 Secret values over several lines; the API server's decoder ignores the
 * newlines, the JSON-schema `byte` format does not.
 */
function normalize(obj: K8sObject): K8sObject {
  if (obj.kind !== 'Secret' || !obj.data) return obj;
  const data = Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, v.replace(/\s+/g, '')]));
  return { ...obj, data };
}

type Check = (obj: K8sObject) => string[];

const required = (obj: K8sObject, paths: string[]): string[] =>
  paths.filter((p) => get(obj, p) === undefined).map((p) => `${p} is required`);

function get(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const nonEmptyArray = (obj: K8sObject, p: string): string[] =>
  Array.isArray(get(obj, p)) && (get(obj, p) as unknown[]).length > 0
    ? []
    : [`${p} must be a non-empty list`];

const CUSTOM_RESOURCES: Record<string, Check> = {
  'keda.sh/v1alpha1/ScaledObject': (o) => {
    const errors = [...required(o, ['spec.scaleTargetRef.name']), ...nonEmptyArray(o, 'spec.triggers')];
    for (const [i, t] of ((o.spec?.triggers ?? []) as { type?: unknown; metadata?: unknown }[]).entries()) {
      if (typeof t.type !== 'string') errors.push(`spec.triggers[${i}].type is required`);
      if (typeof t.metadata !== 'object' || t.metadata === null) {
        errors.push(`spec.triggers[${i}].metadata is required`);
      }
    }
    for (const k of ['minReplicaCount', 'maxReplicaCount']) {
      const v = get(o, `spec.${k}`);
      if (v !== undefined && !Number.isInteger(v)) errors.push(`spec.${k} must be an integer`);
    }
    return errors;
  },
  'postgresql.cnpg.io/v1/Cluster': (o) => {
    const errors = required(o, ['spec.storage.size']);
    if (!Number.isInteger(o.spec?.instances) || o.spec.instances < 1) {
      errors.push('spec.instances must be an integer >= 1');
    }
    return errors;
  },
  'clickhouse.altinity.com/v1/ClickHouseInstallation': (o) => {
    const errors = nonEmptyArray(o, 'spec.configuration.clusters');
    for (const [i, c] of ((o.spec?.configuration?.clusters ?? []) as { name?: unknown }[]).entries()) {
      if (typeof c.name !== 'string') errors.push(`spec.configuration.clusters[${i}].name is required`);
    }
    return errors;
  },
  'monitoring.coreos.com/v1/ServiceMonitor': (o) => [
    ...required(o, ['spec.selector']),
    ...nonEmptyArray(o, 'spec.endpoints'),
  ],
  'monitoring.coreos.com/v1/PodMonitor': (o) => [
    ...required(o, ['spec.selector']),
    ...nonEmptyArray(o, 'spec.podMetricsEndpoints'),
  ],
  'monitoring.coreos.com/v1/PrometheusRule': (o) => {
    const errors = nonEmptyArray(o, 'spec.groups');
    for (const [i, g] of ((o.spec?.groups ?? []) as { name?: unknown; rules?: unknown[] }[]).entries()) {
      if (typeof g.name !== 'string') errors.push(`spec.groups[${i}].name is required`);
      for (const [j, r] of (
        (g.rules ?? []) as { alert?: unknown; record?: unknown; expr?: unknown }[]
      ).entries()) {
        if (typeof r.expr !== 'string') errors.push(`spec.groups[${i}].rules[${j}].expr must be a string`);
        if (typeof r.alert !== 'string' && typeof r.record !== 'string') {
          errors.push(`spec.groups[${i}].rules[${j}] needs alert or record`);
        }
      }
    }
    return errors;
  },
  'postgresql.cnpg.io/v1/ScheduledBackup': (o) => required(o, ['spec.schedule', 'spec.cluster.name']),
  'clickhouse-keeper.altinity.com/v1/ClickHouseKeeperInstallation': (o) => {
    const errors = nonEmptyArray(o, 'spec.configuration.clusters');
    for (const [i, c] of ((o.spec?.configuration?.clusters ?? []) as { name?: unknown }[]).entries()) {
      if (typeof c.name !== 'string') errors.push(`spec.configuration.clusters[${i}].name is required`);
    }
    return errors;
  },
};
