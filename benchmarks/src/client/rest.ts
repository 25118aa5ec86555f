import { randomBytes } from 'node:crypto';

/** A non-2xx answer from the API, with the error envelope's code. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    const code = (body as { error?: { code?: string } } | undefined)?.error?.code ?? '?';
    super(`${method} ${path} → ${status} ${code}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  get code(): string | undefined {
    return (this.body as { error?: { code?: string } } | undefined)?.error?.code;
  }
}

export interface User {
  id: string;
  email: string;
  name: string;
  role: 'trainee' | 'trainer';
  weightKg?: number | null;
}
export interface Account {
  user: User;
  accessToken: string;
  refreshToken: string;
  password: string;
}
export interface Session {
  id: string;
  status: string;
  startsAt: string;
  [key: string]: unknown;
}
export interface JoinAnswer {
  state: 'waiting' | 'live';
  session: Session;
  gatewayUrl: string;
  ticket: string;
}
export interface ResultsPage {
  session: Session;
  leaderboard: { items: LeaderboardItem[]; nextCursor: string | null };
  me?: MyResult;
}
export interface LeaderboardItem {
  rank: number;
  userId: string;
  name: string;
  score: number;
  calories: number;
}
export interface MyResult {
  rank: number;
  score: number;
  calories: number;
  avgEnergy: number;
  minutes: { minute: number; avgEnergy: number; maxEnergy: number; samples: number }[];
}

const REQUEST_TIMEOUT_MS = 30_000;
/** How long `results` keeps following 202 RESULTS_PENDING before giving up. */
export const RESULTS_PATIENCE_MS = 60_000;

/** Thin fetch wrapper over the public REST contract (docs/API-CONTRACT.md). */
/** Access tokens are refreshed this long after they were issued (the API's default lifetime is 15 minutes). */
export const TOKEN_REFRESH_AFTER_MS = 10 * 60_000;

/**
 * A long-running client's credentials: hands out the access token and rotates the pair through
 * POST /v1/auth/refresh once it is older than `refreshAfterMs`, as a real app keeps a trainer signed in.
 */
export class TokenKeeper {
  private issuedAtMs = Date.now();
  private pending: Promise<string> | undefined;

  constructor(
    private readonly api: ApiClient,
    private account: Pick<Account, 'accessToken' | 'refreshToken'>,
    private readonly refreshAfterMs = TOKEN_REFRESH_AFTER_MS,
  ) {}

  async accessToken(): Promise<string> {
    if (Date.now() - this.issuedAtMs < this.refreshAfterMs) return this.account.accessToken;
    this.pending ??= this.api
      .request<{ accessToken: string; refreshToken: string }>('POST', '/v1/auth/refresh', undefined, {
        refreshToken: this.account.refreshToken,
      })
      .then((pair) => {
        this.account = pair;
        this.issuedAtMs = Date.now();
        return pair.accessToken;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, token, body);
    if (res.status < 200 || res.status >= 300) throw new ApiError(method, path, res.status, res.body);
    return res.body as T;
  }

  /** One request, whatever its status. */
  async send(
    method: string,
    path: string,
    token?: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; headers: Headers; body: unknown }> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }

  async register(role: 'trainee' | 'trainer', name: string, weightKg?: number): Promise<Account> {
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}.${randomBytes(4).toString('hex')}@bench.pulse.test`;
    const answer = await this.request<Omit<Account, 'password'>>('POST', '/v1/auth/register', undefined, {
      email,
      password,
      name,
      role,
      ...(weightKg === undefined ? {} : { weightKg }),
    });
    return { ...answer, password };
  }

  login(email: string, password: string): Promise<Omit<Account, 'password'>> {
    return this.request('POST', '/v1/auth/login', undefined, { email, password });
  }

  createSession(token: string, body: Record<string, unknown>): Promise<Session> {
    return this.request('POST', '/v1/sessions', token, {
      title: 'Benchmark ride',
      type: 'cycling',
      durationMinutes: 30,
      capacity: 100_000,
      startsAt: new Date(Date.now() + 3_600_000).toISOString(),
      ...body,
    });
  }
  getSession(token: string, id: string): Promise<Session> {
    return this.request('GET', `/v1/sessions/${id}`, token);
  }
  registerFor(token: string, sessionId: string): Promise<{ status: string }> {
    return this.request('POST', `/v1/sessions/${sessionId}/registrations`, token, {});
  }
  join(token: string, sessionId: string): Promise<JoinAnswer> {
    return this.request('POST', `/v1/sessions/${sessionId}/join`, token, {});
  }
  lifecycle(token: string, sessionId: string, action: 'start' | 'end' | 'cancel'): Promise<Session> {
    return this.request('POST', `/v1/sessions/${sessionId}/${action}`, token, {});
  }
  /**
   * One page of results. An ended session's results are frozen moments after the end; until then the API
   * answers 202 RESULTS_PENDING with Retry-After, which this follows for up to `patienceMs`.
   */
  async results(
    token: string,
    sessionId: string,
    limit = 100,
    cursor?: string,
    patienceMs = RESULTS_PATIENCE_MS,
  ): Promise<ResultsPage> {
    const query = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const path = `/v1/sessions/${sessionId}/results?${query}`;
    const deadline = Date.now() + patienceMs;
    for (;;) {
      const res = await this.send('GET', path, token);
      if (res.status === 200) return res.body as ResultsPage;
      if (res.status !== 202 || Date.now() > deadline) throw new ApiError('GET', path, res.status, res.body);
      const retryAfterSec = Number(res.headers.get('retry-after') ?? '1');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0.05, retryAfterSec) * 1000));
    }
  }

  /** Every leaderboard page of a session's results, plus the caller's `me` from the first page. */
  async allResults(token: string, sessionId: string): Promise<{ items: LeaderboardItem[]; me?: MyResult }> {
    const first = await this.results(token, sessionId);
    const items = [...first.leaderboard.items];
    let cursor = first.leaderboard.nextCursor;
    while (cursor) {
      const page = await this.results(token, sessionId, 100, cursor);
      items.push(...page.leaderboard.items);
      cursor = page.leaderboard.nextCursor;
    }
    return { items, me: first.me };
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Registers `count` trainees (bounded concurrency), each with a distinct name and weight. */
export function registerTrainees(
  api: ApiClient,
  count: number,
  concurrency = 16,
  prefix = 'Trainee',
): Promise<Account[]> {
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    (i) => api.register('trainee', `${prefix} ${i + 1}`, 55 + (i % 40)),
  );
}

/** Registers every account for the session and fetches its join ticket. */
export function registerAndJoin(
  api: ApiClient,
  sessionId: string,
  accounts: readonly Account[],
  concurrency = 16,
): Promise<JoinAnswer[]> {
  return mapLimit(accounts, concurrency, async (a) => {
    await api.registerFor(a.accessToken, sessionId);
    return api.join(a.accessToken, sessionId);
  });
}
