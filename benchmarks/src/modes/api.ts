import autocannon from 'autocannon';
import {
  ApiClient,
  mapLimit,
  registerAndJoin,
  registerTrainees,
  type Account,
  type Session,
} from '../client/rest.js';
import { TraineeConnection } from '../client/trainee.js';
import { openTarget, type TargetOptions } from './target.js';
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
}

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
}

type RouteRequest = { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string };
interface Fixture {
  trainer: Account;
  trainees: Account[];
  seeded: Session[];
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
    const fx = await seed(api, opts, open.target.gatewayUrls, log);
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
    for (const [route, make] of routes) {
      log(`api: ${route} for ${opts.durationSec} s`);
      const r = await autocannon({
        url: open.target.apiUrl,
        connections: opts.connections,
        duration: opts.durationSec,
        ...(opts.rate > 0 ? { overallRate: opts.rate } : {}),
        requests: [{ setupRequest: (req) => ({ ...req, ...make() }) }],
      });
      results.push({
        route,
        requests: r.requests.total,
        reqPerSec: Math.round(r.requests.average),
        p50: r.latency.p50,
        p90: r.latency.p90,
        p99: r.latency.p99,
        max: r.latency.max,
        non2xx: r.non2xx,
        errors: r.errors,
      });
    }
    return apiReport(opts, startedAt, results);
  } finally {
    await open.close();
  }
}

async function seed(
  api: ApiClient,
  opts: ApiBenchOptions,
  gatewayUrls: readonly string[],
  log: (l: string) => void,
): Promise<Fixture> {
  const trainer = await api.register('trainer', 'Api Bench Coach');
  log(`api: seeding ${opts.seedSessions} sessions and ${opts.participants} trainees`);
  const day = 86_400_000;
  const seeded = await mapLimit(Array.from({ length: opts.seedSessions }), 32, (_, i) =>
    api.createSession(trainer.accessToken, {
      title: `Seeded ride ${i + 1}`,
      startsAt: new Date(Date.now() + day + (i % 5000) * 600_000).toISOString(),
      capacity: 50,
    }),
  );
  const trainees = await registerTrainees(api, opts.participants, 16, 'ApiBench');
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
  const conns = joins.map(
    (j, i) => new TraineeConnection(gatewayUrls[i % gatewayUrls.length] ?? j.gatewayUrl, j.ticket),
  );
  await Promise.all(conns.map((c) => c.connect()));
  await api.lifecycle(trainer.accessToken, playedSession.id, 'start');
  await Promise.all(conns.map((c) => c.waitLive()));
  conns.forEach((c, i) => [1, 2, 3].forEach((seq) => c.sendRating(seq, 30 + ((i * 7 + seq) % 60))));
  await Promise.all(conns.map((c) => c.waitForRankSeq(3)));
  await api.lifecycle(trainer.accessToken, playedSession.id, 'end');
  await Promise.all(conns.map((c) => c.closed));
  return { trainer, trainees, seeded, joinSession, playedSession };
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
        title: `per route: ${opts.connections} connections, ${opts.durationSec} s, ${opts.rate > 0 ? `${opts.rate} req/s offered` : 'unthrottled'}, ${opts.seedSessions} sessions seeded`,
        columns: ['route', 'requests', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'non-2xx'],
        rows: results.map((r) => [r.route, r.requests, r.reqPerSec, r.p50, r.p90, r.p99, r.max, r.non2xx]),
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
    data: { results, seedSessions: opts.seedSessions, connections: opts.connections },
  };
}
