import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface StaticFile {
  body: Buffer;
  contentType: string;
  /** Vite puts content-hashed files under assets/: they never change, everything else is revalidated. */
  immutable: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Every file of the built app, read once at start and keyed by its URL path below the app ("/index.html",
 * "/assets/index-abc.js"). Requests are answered by looking a key up, never by joining a request path onto
 * the disk, so no request can name a file outside the build. The build is a few hundred kB.
 */
export function loadStaticFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = path.posix.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) {
        files.set(`/${child}`, {
          body: readFileSync(path.join(dir, child)),
          contentType: CONTENT_TYPES[path.extname(entry.name)] ?? 'application/octet-stream',
          immutable: child.startsWith('assets/'),
        });
      }
    }
  };
  walk('');
  return files;
}
