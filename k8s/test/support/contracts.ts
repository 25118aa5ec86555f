import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NatsNames } from '../../src/nats-permissions.js';
import { REPO_ROOT } from './paths.js';

/** A stream's settings as @pulse/contracts' streamConfigs() gives them (durations in ms). */
export interface ContractStream {
  name: string;
  subjects: readonly string[];
  duplicate_window_ms: number;
  max_age_ms: number;
  [key: string]: unknown;
}

export interface Contracts {
  natsNames(namespace?: string): NatsNames;
  streamConfigs(names: NatsNames, replicas?: number): readonly ContractStream[];
  /** The ratings partition of a session (issue 12). */
  partitionOf(sessionId: string): number;
}

/**
 * The compiled @pulse/contracts, loaded by path: k8s has no TypeScript reference to the contracts (it only
 * reads what the services really use), like metric-names.test.ts loads the services' registries.
 */
export async function loadContracts(): Promise<Contracts> {
  const file = path.join(REPO_ROOT, 'packages/contracts/dist/src/index.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: build first (npx tsc -b)`);
  return (await import(pathToFileURL(file).href)) as Contracts;
}
