import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { REPO_ROOT } from './paths.js';

export const SERVICES = ['api', 'gateway', 'live-engine'] as const;
export type Service = (typeof SERVICES)[number];

/**
 * Settings the manifests set that the services do not read yet (k8s/README.md "What production assumes
 * from the services" explains each). A key listed here is checked like any other as soon as a service's
 * config defines it.
 */
export const PENDING_SETTINGS: Record<string, Service[]> = {
  TRUST_PROXY: ['api'],
};

/** Environment read by libraries rather than the services' config (node-postgres reads PGOPTIONS). */
export const LIBRARY_SETTINGS = ['PGOPTIONS'];

/** The marker a literal's comment starts with when its value deliberately differs from the default. */
export const NOT_DEFAULT = 'not the default:';

/** Each service's defaults: its compiled config module parsing an empty environment. */
export async function serviceDefaults(): Promise<Record<Service, Record<string, unknown>>> {
  const out = {} as Record<Service, Record<string, unknown>>;
  for (const service of SERVICES) {
    const file = path.join(REPO_ROOT, 'services', service, 'dist/src/config.js');
    if (!existsSync(file)) throw new Error(`${file} is missing: build the services first (npx tsc -b)`);
    const mod = (await import(pathToFileURL(file).href)) as {
      loadConfig?: (env: Record<string, string>) => Record<string, unknown>;
    };
    if (typeof mod.loadConfig !== 'function') {
      throw new Error(`${file} exports no loadConfig(env): point serviceDefaults() at the service's config`);
    }
    out[service] = { ...mod.loadConfig({}) };
  }
  return out;
}

export interface Literal {
  key: string;
  value: string;
  comment: string;
}

/** The configMapGenerator literals of a kustomization file, each with the comment lines right above it. */
export function configLiterals(text: string): Literal[] {
  const doc = parseDocument(text);
  const generators = doc.get('configMapGenerator');
  if (!isSeq(generators)) return [];
  const out: Literal[] = [];
  for (const gen of generators.items) {
    const literals = isMap(gen) ? gen.get('literals', true) : undefined;
    if (!isSeq(literals)) continue;
    for (const [i, item] of literals.items.entries()) {
      if (!isScalar(item)) continue;
      const [key, ...rest] = String(item.value).split('=');
      // The comment above the first item belongs to the sequence in the YAML model.
      const comment = item.commentBefore ?? (i === 0 ? literals.commentBefore : undefined) ?? '';
      out.push({ key, value: rest.join('='), comment: comment.trim() });
    }
  }
  return out;
}

/**
 * Every way a ConfigMap literal breaks "one place for each setting": no service reads the key (and it is not
 * pending), or its value differs from the default of a service that reads it without saying why.
 */
export function literalProblems(
  where: string,
  literals: Literal[],
  defaults: Record<Service, Record<string, unknown>>,
): string[] {
  const problems: string[] = [];
  for (const { key, value, comment } of literals) {
    const readers = SERVICES.filter((s) => key in defaults[s]);
    if (readers.length === 0) {
      if (!PENDING_SETTINGS[key]) problems.push(`${where}: ${key} is read by no service`);
      continue;
    }
    const differing = readers.filter((s) => String(defaults[s][key]) !== value);
    const explained = comment.split('\n').some((l) => l.trim().startsWith(NOT_DEFAULT));
    if (differing.length > 0 && !explained) {
      const defaultsText = differing.map((s) => `${s} ${String(defaults[s][key])}`).join(', ');
      problems.push(`${where}: ${key}=${value} differs from the default (${defaultsText}) without a reason`);
    }
    if (differing.length === 0 && explained) {
      problems.push(`${where}: ${key}=${value} is the default but its comment says it is not`);
    }
  }
  return problems;
}

export const readKustomization = (dir: string): string =>
  readFileSync(path.join(REPO_ROOT, 'k8s', dir, 'kustomization.yaml'), 'utf8');
