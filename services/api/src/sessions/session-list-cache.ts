import { LRUCache } from 'lru-cache';

/** How long a list page may be served from memory when another replica changed it (SESSION_LIST_CACHE_MS). */
export const DEFAULT_SESSION_LIST_CACHE_MS = 1_000;
/** Distinct list queries (filters, cursor, limit) kept at once, least recently used dropped. */
const MAX_PAGES = 1_000;

interface CachedPage {
  json: string;
  expiresAtMs: number;
}

/**
 * The session list's pages as JSON, shared by every caller of this process (the list is the same for
 * every user: no caller-specific field). Every session or registration write of this process clears it
 * after its commit, so what this process changed is listed at once; what another replica changed is
 * listed at most `ttlMs` later. A page is built by one query however many callers miss it at once, and
 * serialized once. A query that was running when the list changed is answered to its callers but not
 * kept: it may have read the rows from before the change.
 */
export class SessionListCache {
  private readonly pages = new LRUCache<string, CachedPage>({ max: MAX_PAGES });
  private readonly loading = new Map<string, Promise<string>>();
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** The page's JSON for `key`: from memory while fresh, else from `load` (one call per key at a time). */
  json(key: string, load: () => Promise<unknown>): Promise<string> {
    if (this.ttlMs === 0) return load().then((page) => JSON.stringify(page));
    const cached = this.pages.get(key);
    if (cached !== undefined && cached.expiresAtMs > this.nowMs()) return Promise.resolve(cached.json);
    const running = this.loading.get(key);
    if (running !== undefined) return running;
    const generation = this.generation;
    const started = this.nowMs();
    const loaded = load()
      .then((page) => {
        const json = JSON.stringify(page);
        if (generation === this.generation) this.pages.set(key, { json, expiresAtMs: started + this.ttlMs });
        return json;
      })
      .finally(() => {
        if (this.loading.get(key) === loaded) this.loading.delete(key);
      });
    this.loading.set(key, loaded);
    return loaded;
  }

  /** A session or registration changed (committed): every page is rebuilt on its next request. */
  invalidate(): void {
    this.generation++;
    this.pages.clear();
    this.loading.clear();
  }
}
