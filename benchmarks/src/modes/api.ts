import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import pg from 'pg';
import {
  ApiClient,
  mapLimit,
  registerAndJoin,
  registerTrainees,
  type Account,
  type Session,
} from '../client/rest.js';
import { LoadDevice } from '../client/load-device.js';
import { openTarget, type OpenTarget, type TargetOptions } from './target.js';
import { pacedLoad } from './paced-load.js';
import { mainThreadRunQueueMs, perRequest, processCpuMs } from '../metrics/process-cpu.js';
import type { Report } from '../report/report.js';

export interface ApiBenchOptions extends TargetOptions {
  name: string;
  command: string;
  /** Seconds per route. */
  durationSec: number;
  connections: number;
  /** Requests/s per route (autocannon overallRate); 0 = as fast as it answers. */
  rate: number;
  seedSessions: number;
  /** Trainees of the played session whose results are read. */
  participants: number;
  /** Ended sessions with frozen results seeded for every trainee (their history). */
  seedHistory: number;
  /** Only the routes whose key is listed (ROUTE_KEYS); all when absent. */
  routes?: string[];
  /** With `rate`: an open-loop load paced at `rate` (pacedLoad) instead of autocannon's bursts. */
  paced?: boolean;
}

/** `--routes` keys, in the order the routes run. */
export const ROUTE_KEYS = ['list', 'detail', 'register', 'join', 'results', 'history', 'login'] as const;

export interface RouteResult {
  route: string;
  requests: number;
  reqPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  /** CPU time of the api process per answered request (Linux /proc; null elsewhere or remote). */
  apiCpuMsPerRequest: number | null;
  /** Time the api's main thread waited for a CPU while runnable, per request (Linux schedstat). */
  apiRunQueueMsPerRequest: number | null;
  /** 1-min load average of the machine when the route finished: > cores means others competed. */
  loadAvg: number;
}

type RouteRequest = { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string };
interface Fixture {
  trainer: Account;
  trainees: Account[];
  seeded: Array<Pick<Session, 'id'>>;
  joinSession: Session;
  playedSession: Session;
}

const auth = (a: Account) => ({
  authorization: `Bearer ${a.accessToken}`,
  'content-type': 'application/json',
});

/** Seeds sessions, plays one small session (so it has results), then drives each route with autocannon. */
export async function runApiBench(opts: ApiBenchOptions): Promise<Report> {
  const log = opts.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const open = await openTarget({
    ...opts,
    env: { api: { LOGIN_MAX_PER_IP: '100000000', LOGIN_MAX_PER_ACCOUNT: '100000000' }, ...opts.env },
  });
  try {
    const api = new ApiClient(open.target.apiUrl);
    const fx = await seed(api, opts, open, log);
    let turn = 0;
    const next = <T>(list: T[]) => list[turn++ % list.length];
    const routes: Array<[string, () => RouteRequest]> = [
      [
        'GET /v1/sessions (upcoming)',
        () => ({ method: 'GET', path: '/v1/sessions?limit=20', headers: auth(next(fx.trainees)) }),
      ],
      [
        'GET /v1/sessions/:id',
        () => ({
          method: 'GET',
          path: `/v1/sessions/${next(fx.seeded).id}`,
          headers: auth(next(fx.trainees)),
        }),
      ],
      [
        'POST /v1/sessions/:id/registrations',
        () => ({
          method: 'POST',
          path: `/v1/sessions/${next(fx.seeded).id}/registrations`,
          headers: auth(next(fx.trainees)),
          body: '{}',
        }),
      ],
      [
        'POST /v1/sessions/:id/join',
        () => ({
          method: 'POST',
          path: `/v1/sessions/${fx.joinSession.id}/join`,
          headers: auth(next(fx.trainees)),
          body: '{}',
        }),
      ],
      [
        'GET /v1/sessions/:id/results',
        () => ({
          method: 'GET',
          path: `/v1/sessions/${fx.playedSession.id}/results`,
          headers: auth(next(fx.trainees)),
        }),
      ],
      [
        'GET /v1/me/history',
        () => ({ method: 'GET', path: '/v1/me/history?limit=20', headers: auth(next(fx.trainees)) }),
      ],
      [
        'POST /v1/auth/login',
        () => {
          const a = next(fx.trainees);
          return {
            method: 'POST',
            path: '/v1/auth/login',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email: a.user.email, password: a.password }),
          };
        },
      ],
    ];
    const results: RouteResult[] = [];
    const chosen = routes.filter((_, i) => opts.routes === undefined || opts.routes.includes(ROUTE_KEYS[i]));
    for (const [route, make] of chosen) {
      log(`api: ${route} for ${opts.durationSec} s`);
      const apiPid = open.pids().api;
      const drive = opts.paced && opts.rate > 0 ? paced : cannon;
      const r = await drive(open.target.apiUrl, opts, make, (run) => apiTimePerRequest(apiPid, run));
      results.push({ route, ...r, loadAvg: Math.round(loadavg()[0] * 10) / 10 });
    }
    return apiReport(opts, startedAt, results);
  } finally {
    await open.close();
  }
}

type Measured = Omit<RouteResult, 'route' | 'loadAvg'>;
type Driver = (
  url: string,
  opts: ApiBenchOptions,
  make: () => RouteRequest,
  /** Runs the measured load and returns it with the api's CPU and run-queue ms per request over it. */
  timed: <R extends { requests: number }>(run: () => Promise<R>) => Promise<[R, ApiTime]>,
) => Promise<Measured>;
type ApiTime = Pick<RouteResult, 'apiCpuMsPerRequest' | 'apiRunQueueMsPerRequest'>;

async function apiTimePerRequest<R extends { requests: number }>(
  apiPid: number | undefined,
  run: () => Promise<R>,
): Promise<[R, ApiTime]> {
  const cpu = processCpuMs(apiPid);
  const waited = mainThreadRunQueueMs(apiPid);
  const r = await run();
  return [
    r,
    {
      apiCpuMsPerRequest: perRequest(cpu, processCpuMs(apiPid), r.requests),
      apiRunQueueMsPerRequest: perRequest(waited, mainThreadRunQueueMs(apiPid), r.requests),
    },
  ];
}

const cannon: Driver = async (url, opts, make, timed) => {
  const [r, time] = await timed(async () => {
    const result = await autocannon({
      url,
      connections: opts.connections,
      duration: opts.durationSec,
      ...(opts.rate > 0 ? { overallRate: opts.rate } : {}),
      requests: [{ setupRequest: (req) => ({ ...req, ...make() }) }],
    });
    return { ...result, requests: result.requests.total, average: result.requests.average };
  });
  return {
    requests: r.requests,
    reqPerSec: Math.round(r.average),
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors,
    ...time,
  };
};

/** Paced runs start with this much of the same load, not counted (JIT, connection pools, caches). */
const PACED_WARMUP_SEC = 2;

const paced: Driver = async (url, opts, make, timed) => {
  const load = { url, rate: opts.rate, connections: opts.connections, next: make };
  await pacedLoad({ ...load, durationSec: PACED_WARMUP_SEC });
  const [r, time] = await timed(() => pacedLoad({ ...load, durationSec: opts.durationSec }));
  const { p50, p90, p99, max } = r.latency;
  return {
    requests: r.requests,
    reqPerSec: r.reqPerSec,
    p50,
    p90,
    p99,
    max,
    non2xx: r.non2xx,
    errors: r.errors,
    ...time,
  };
};

async function seed(
  api: ApiClient,
  opts: ApiBenchOptions,
  open: OpenTarget,
  log: (l: string) => void,
): Promise<Fixture> {
  const gatewayUrls = open.target.gatewayUrls;
  const trainer = await api.register('trainer', 'Api Bench Coach');
  const direct = open.local !== undefined;
  log(
    `api: seeding ${opts.seedSessions} sessions (${direct ? 'directly in PostgreSQL' : 'through the API'}) and ${opts.participants} trainees`,
  );
  const seedStarted = Date.now();
  const seeded = open.local
    ? await seedSessionsDirectly(
        open.local.infra.databaseUrl,
        open.local.isolation.databaseSchema,
        trainer,
        opts,
      )
    : await mapLimit(Array.from({ length: opts.seedSessions }), 64, (_, i) =>
        api.createSession(trainer.accessToken, {
          title: `Seeded ride ${i + 1}`,
          startsAt: new Date(Date.now() + DAY_MS + (i % 5000) * 600_000).toISOString(),
          capacity: 50,
        }),
      );
  log(`api: ${seeded.length} sessions seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);
  const trainees = await registerTrainees(api, opts.participants, 16, 'ApiBench');
  if (open.local) {
    await seedRegistrationsDirectly(
      open.local.infra.databaseUrl,
      open.local.isolation.databaseSchema,
      seeded,
      trainees,
    );
  }
  const joinSession = await api.createSession(trainer.accessToken, {
    title: 'Join target',
    capacity: 10_000,
  });
  await registerAndJoin(api, joinSession.id, trainees);
  const playedSession = await api.createSession(trainer.accessToken, {
    title: 'Played ride',
    capacity: 10_000,
  });
  const joins = await registerAndJoin(api, playedSession.id, trainees);
  const devices = joins.map(
    (j, i) => new LoadDevice(gatewayUrls[i % gatewayUrls.length] ?? j.gatewayUrl, j.ticket),
  );
  await Promise.all(devices.map((d) => d.start()));
  await api.lifecycle(trainer.accessToken, playedSession.id, 'start');
  await Promise.all(devices.map((d) => d.waitLive()));
  devices.forEach((d, i) => [1, 2, 3].forEach((seq) => d.rate(30 + ((i * 7 + seq) % 60))));
  await Promise.all(devices.map((d) => d.waitForRankSeq(3)));
  await api.lifecycle(trainer.accessToken, playedSession.id, 'end');
  await Promise.all(devices.map((d) => d.live.done));
  // Measure the frozen results, not the 202s before the freeze (this follows Retry-After).
  await api.results(trainer.accessToken, playedSession.id);
  if (open.local && opts.seedHistory > 0) {
    const started = Date.now();
    await seedHistoryDirectly(
      open.local.infra.databaseUrl,
      open.local.isolation.databaseSchema,
      trainer,
      trainees,
      opts.seedHistory,
    );
    log(
      `api: ${opts.seedHistory} frozen sessions of history per trainee seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  return { trainer, trainees, seeded, joinSession, playedSession };
}

const DAY_MS = 86_400_000;

/**
 * The documented direct seeding path for a local stack (whose schema the harness owns): one
 * `generate_series` insert instead of 10k `POST /v1/sessions` (minutes on 2 busy cores). The rows are
 * what the API would write — scheduled, starting from tomorrow every 10 min, two per slot — minus the
 * `created` outbox events, which nothing in this mode reads. A remote target is seeded through the API.
 */
async function seedSessionsDirectly(
  databaseUrl: string,
  schema: string,
  trainer: Account,
  opts: ApiBenchOptions,
): Promise<Array<Pick<Session, 'id'>>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      `insert into "${schema}".workout_session
         (id, trainer_id, title, description, type, starts_at, duration_minutes, capacity, status, version, created_at)
       select gen_random_uuid(), $1::uuid, 'Seeded ride ' || i, null, 'cycling',
              date_trunc('milliseconds', $3::timestamptz + ((i - 1) % 5000) * interval '10 minutes'),
              30, 50, 'scheduled', 1, date_trunc('milliseconds', now())
       from generate_series(1, $2::int) as i
       order by i
       returning id`,
      [trainer.user.id, opts.seedSessions, new Date(Date.now() + DAY_MS).toISOString()],
    );
    await client.query(`analyze "${schema}".workout_session`);
    return rows;
  } finally {
    await client.end();
  }
}

/** Every other seeded session gets 5 of the trainees registered, so the lists carry real counts. */
async function seedRegistrationsDirectly(
  databaseUrl: string,
  schema: string,
  seeded: Array<Pick<Session, 'id'>>,
  trainees: Account[],
): Promise<void> {
  const sessionIds: string[] = [];
  const traineeIds: string[] = [];
  seeded.forEach((s, i) => {
    if (i % 2 === 0) return;
    for (let k = 0; k < Math.min(5, trainees.length); k++) {
      sessionIds.push(s.id);
      traineeIds.push(trainees[(i + k) % trainees.length].user.id);
    }
  });
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `insert into "${schema}".registration (id, session_id, trainee_id, status, queued_at, joined_at, created_at)
       select gen_random_uuid(), s, t, 'registered', date_trunc('milliseconds', now()), null,
              date_trunc('milliseconds', now())
       from unnest($1::uuid[], $2::uuid[]) as x(s, t)`,
      [sessionIds, traineeIds],
    );
    await client.query(`analyze "${schema}".registration`);
  } finally {
    await client.end();
  }
}

/**
 * History for the trainees: `count` ended sessions, each with its results frozen as the API freezes them
 * (services/api/src/results/results-freeze.ts: one `session_result_freeze` row, one `session_result` row
 * per participant), every trainee a participant of each. Only for the local stack's own schema.
 */
async function seedHistoryDirectly(
  databaseUrl: string,
  schema: string,
  trainer: Account,
  trainees: Account[],
  count: number,
): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(
      `with s as (
         insert into "${schema}".workout_session
           (id, trainer_id, title, description, type, starts_at, duration_minutes, capacity, status,
            started_at, ended_at, version, created_at)
         select gen_random_uuid(), $1::uuid, 'History ride ' || i, null, 'cycling', t, 30, 50, 'ended',
                t, t + interval '30 minutes', 1, t - interval '1 day'
         from (select i, date_trunc('milliseconds', now() - i * interval '1 day') as t
               from generate_series(1, $2::int) as i) g
         returning id, trainer_id, title, type, status, starts_at, duration_minutes, capacity, started_at,
                   ended_at)
       , f as (
         insert into "${schema}".session_result_freeze (session_id, participants, session, ended_at)
         select id, $4::int, jsonb_build_object('id', id, 'trainerId', trainer_id, 'title', title, 'type', type,
                  'status', status, 'startsAt', to_char(starts_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'durationMinutes', duration_minutes, 'capacity', capacity,
                  'startedAt', to_char(started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'endedAt', to_char(ended_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'cancelledAt', null),
                ended_at
         from s)
       insert into "${schema}".session_result
         (session_id, user_id, rank, name, score, calories, avg_energy, samples, minutes, ended_at)
       select s.id, t.id, t.n, t.name, 1000 - t.n, 100 - t.n, 50, 1800, '[[0, 50, 90, 60]]', s.ended_at
       from s, unnest($3::uuid[], $5::text[]) with ordinality as t(id, name, n)`,
      [
        trainer.user.id,
        count,
        trainees.map((t) => t.user.id),
        trainees.length,
        trainees.map((t) => t.user.name),
      ],
    );
    await client.query('commit');
    await client.query(`analyze "${schema}".session_result`);
    await client.query(`analyze "${schema}".workout_session`);
  } finally {
    await client.end();
  }
}

function apiReport(opts: ApiBenchOptions, startedAt: string, results: RouteResult[]): Report {
  return {
    name: opts.name,
    mode: 'api',
    command: opts.command,
    startedAt,
    finishedAt: new Date().toISOString(),
    checks: results.map((r) => ({
      name: `${r.route} answers 2xx`,
      ok: r.non2xx === 0 && r.errors === 0,
      detail: `${r.requests} requests, ${r.non2xx} non-2xx, ${r.errors} connection errors`,
    })),
    tables: [
      {
        title: `per route: ${opts.connections} connections, ${opts.durationSec} s, ${opts.rate > 0 ? `${opts.rate} req/s offered${opts.paced ? ' (paced, open loop)' : ' (autocannon)'}` : 'unthrottled'}, ${opts.seedSessions} sessions seeded, ${opts.seedHistory} ended sessions of history per trainee`,
        columns: [
          'route',
          'requests',
          'req/s',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'max ms',
          'non-2xx',
          'api CPU ms/req',
          'api waited for a CPU ms/req',
          'load avg',
        ],
        rows: results.map((r) => [
          r.route,
          r.requests,
          r.reqPerSec,
          r.p50,
          r.p90,
          r.p99,
          r.max,
          r.non2xx,
          r.apiCpuMsPerRequest ?? '–',
          r.apiRunQueueMsPerRequest ?? '–',
          r.loadAvg,
        ]),
      },
    ],
    charts: [
      {
        title: 'latency per route (ms)',
        type: 'bar',
        labels: results.map((r) => r.route),
        yLabel: 'ms',
        datasets: [
          { label: 'p50', data: results.map((r) => r.p50) },
          { label: 'p99', data: results.map((r) => r.p99) },
        ],
      },
      {
        title: 'requests/s per route',
        type: 'bar',
        labels: results.map((r) => r.route),
        datasets: [{ label: 'req/s', data: results.map((r) => r.reqPerSec) }],
      },
    ],
    data: {
      results,
      seedSessions: opts.seedSessions,
      seedHistory: opts.seedHistory,
      connections: opts.connections,
      driver: opts.paced && opts.rate > 0 ? 'paced' : 'autocannon',
    },
  };
}
