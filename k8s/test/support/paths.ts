import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** k8s/ (tests run from k8s/dist/test/...). */
export const K8S_DIR = fileURLToPath(new URL('../../../', import.meta.url));
/** The repository root: the Docker build context. */
export const REPO_ROOT = path.resolve(K8S_DIR, '..');
export const OVERLAYS = ['base', 'overlays/dev', 'overlays/production'] as const;
