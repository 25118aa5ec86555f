import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Port of the web app's own server (k8s Deployment `web`); the API, gateway and engine use 3000/8080/8090. */
export const DEFAULT_WEB_PORT = 8000;

/** The Vite build beside this file once compiled: web/dist/src/server/config.js -> web/dist/app. */
const DEFAULT_WEB_APP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../app');

export interface WebServerConfig {
  readonly WEB_PORT: number;
  readonly WEB_APP_DIR: string;
}

export class InvalidWebConfig extends Error {
  constructor(
    readonly variable: string,
    readonly value: string,
  ) {
    super(`${variable}=${JSON.stringify(value)} is not valid`);
  }
}

/**
 * The static server's settings, checked once at start. It has no dependencies at all (not even zod, which
 * the services' shared config uses), so its image carries no node_modules.
 */
export function loadConfig(env: Record<string, string | undefined> = {}): WebServerConfig {
  const port = env.WEB_PORT ?? String(DEFAULT_WEB_PORT);
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65_535) {
    throw new InvalidWebConfig('WEB_PORT', port);
  }
  const dir = env.WEB_APP_DIR ?? DEFAULT_WEB_APP_DIR;
  if (dir === '') throw new InvalidWebConfig('WEB_APP_DIR', dir);
  return Object.freeze({ WEB_PORT: Number(port), WEB_APP_DIR: path.resolve(dir) });
}
