import type { ChartSpec, Report, Table } from '../report/report.js';
import { linearFit, type SoakPlan } from './soak-plan.js';
import type { Holdings, SoakSample } from './soak-probe.js';
import type { SessionOutcome } from './soak-session.js';
import type { SoakOptions, SoakTick } from './soak.js';

/**
 * RSS may rise by at most this much per session (least-squares slope over the RSS read after sessions
 * 2..N ended) in an api, gateway or engine process. Session 1 is left out: it includes warm-up (JIT,
 * connection pools, first allocations). 3 MB/session over 10 sessions is 27 MB: a leak of ~15 KB per
 * participant of 200-trainee sessions would show; GC noise of a few MB between readings would not.
 */
export const RSS_TOLERANCE_MB_PER_SESSION = 3;
/** Fewer sessions than this give no meaningful slope; the growth check then only reports. */
const MIN_SESSIONS_FOR_SLOPE = 4;

export interface SoakRun {
  opts: SoakOptions;
  plan: SoakPlan;
  startedAt: string;
  baseline: Holdings;
  final: Holdings;
  sessions: SessionOutcome[];
  failures: string[];
  samples: SoakSample[];
  ticks: SoakTick[];
}

const judged = (name: string) => name !== 'nats' && name !== 'harness';
const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
const pair = (o: number, e: number) => (o === e ? `${o}` : `${o} (want ${e})`);

/** Per process: least-squares RSS and heap slope (MB/session) over the readings after sessions 2..N. */
export function growthOf(sessions: SessionOutcome[]) {
  const later = sessions.filter((s) => s.index >= 2).sort((a, b) => a.index - b.index);
  const names = [...new Set(later.flatMap((s) => Object.keys(s.after.procs)))];
  return names.map((name) => {
    const rss = later.flatMap((s): Array<[number, number]> =>
      s.after.procs[name] ? [[s.index, s.after.procs[name].rssMb]] : [],
    );
    const heap = later.flatMap((s): Array<[number, number]> => {
      const h = s.after.procs[name]?.heapMb;
      return h === undefined ? [] : [[s.index, h]];
    });
    return {
      name,
      first: rss[0]?.[1],
      last: rss.at(-1)?.[1],
      rssSlope: round(linearFit(rss).slope),
      heapSlope: heap.length > 0 ? round(linearFit(heap).slope) : undefined,
      points: rss.length,
    };
  });
}

function checksOf(run: SoakRun, growth: ReturnType<typeof growthOf>): Report['checks'] {
  const s = run.sessions;
  const sum = (f: (o: SessionOutcome) => number) => s.reduce((n, o) => n + f(o), 0);
  const chKnown = s.every((o) => o.stored !== undefined);
  const lost = sum((o) => Math.max(0, o.sent - (o.stored ?? 0)));
  const extra = sum((o) => Math.max(0, (o.stored ?? 0) - o.sent));
  const notReleased = s.filter((o) => !o.release.ok);
  const wrongResults = s.filter((o) => !o.results.ok);
  const enough = s.length >= MIN_SESSIONS_FOR_SLOPE;
  const grown = growth.filter((g) => judged(g.name) && g.rssSlope > RSS_TOLERANCE_MB_PER_SESSION);
  const slopes = growth
    .filter((g) => judged(g.name))
    .map((g) => `${g.name} ${g.rssSlope}`)
    .join(', ');
  return [
    {
      name: 'every session played',
      ok: run.failures.length === 0 && s.length === run.opts.sessions,
      detail: run.failures[0] ?? `${s.length}/${run.opts.sessions} sessions`,
    },
    {
      name: 'all clients connected and live',
      ok: s.every((o) => o.connected === o.clients && o.notLive === 0),
      detail: `${sum((o) => o.connected)}/${sum((o) => o.clients)} connected, ${sum((o) => o.notLive)} never live`,
    },
    {
      name: 'every last rating ranked',
      ok: sum((o) => o.unsettled) === 0,
      detail: `${sum((o) => o.unsettled)} clients without a rank frame counting their last seq`,
    },
    {
      name: 'zero lost ratings',
      ok: chKnown && lost === 0,
      detail: chKnown
        ? `${sum((o) => o.sent)} sent, ${sum((o) => o.stored ?? 0)} stored (FINAL), ${lost} lost`
        : 'not checked',
    },
    {
      name: 'zero doubled ratings',
      ok: chKnown && extra === 0 && sum((o) => o.storedMismatches ?? 0) === 0,
      detail: `${extra} extra rows; users whose stored count/sum differs: ${sum((o) => o.storedMismatches ?? 0)}`,
    },
    {
      name: 'last rank frame score exact',
      ok: sum((o) => o.rankMismatches) === 0 && s.every((o) => o.violations.length === 0),
      detail: `${sum((o) => o.rankMismatches)} mismatches; ${s.flatMap((o) => o.violations)[0] ?? 'no protocol violations'}`,
    },
    {
      name: 'results exact for each session',
      ok: s.length > 0 && wrongResults.length === 0,
      detail:
        wrongResults.length === 0
          ? 'every score on every leaderboard equals what was sent'
          : `session ${wrongResults[0].index}: ${wrongResults[0].results.detail}`,
    },
    {
      name: 'actors, local sessions, connections and consumers released after each session',
      ok: s.length > 0 && notReleased.length === 0,
      detail:
        notReleased.length === 0
          ? `all ${s.length} released, slowest ${Math.max(0, ...s.map((o) => o.release.seconds))} s after end`
          : `session ${notReleased[0].index}: observed ${JSON.stringify(notReleased[0].release.observed)}, expected ${JSON.stringify(notReleased[0].release.expected)}`,
    },
    {
      name: 'back to the baseline after the last session',
      ok: JSON.stringify(run.final) === JSON.stringify(run.baseline),
      detail: `baseline ${JSON.stringify(run.baseline)}, end ${JSON.stringify(run.final)}`,
    },
    {
      name: `RSS growth ≤ ${RSS_TOLERANCE_MB_PER_SESSION} MB/session (api, gateways, engines; sessions 2..N)`,
      ok: !enough || grown.length === 0,
      detail: enough
        ? `slopes MB/session: ${slopes}`
        : `not judged with ${s.length} sessions (slopes ${slopes})`,
    },
  ];
}

function tablesOf(run: SoakRun, growth: ReturnType<typeof growthOf>): Table[] {
  const { plan, opts } = run;
  const names = Object.keys(run.samples.at(-1)?.procs ?? {});
  const sessions = [...run.sessions].sort((a, b) => a.index - b.index);
  const totalSent = sessions.reduce((n, o) => n + o.sent, 0);
  const lagOf = (name: string) =>
    run.samples.map((x) => x.procs[name]?.lagP99Ms).filter((v): v is number => v !== undefined);
  return [
    {
      title: 'Run',
      columns: ['figure', 'value'],
      rows: [
        ['minutes', opts.minutes],
        ['sessions × new trainees each', `${opts.sessions} × ${plan.participantsPerSession}`],
        ['a session starts every (s)', round(plan.strideMs / 1000, 1)],
        ['each session live (s)', round(plan.liveMs / 1000, 1)],
        ['rate per trainee (ratings/s)', opts.rate],
        ['gateways / engines', `${opts.gateways ?? 1} / ${opts.engines ?? 1}`],
        ['ratings sent (distinct seqs)', totalSent],
        ['samples (every ~5 s)', run.samples.length],
      ],
    },
    {
      title: 'Released after each session (gauges summed over gateways / engines, read after `end`)',
      columns: [
        'session',
        'trainees',
        'live s',
        'end s',
        'sent',
        'stored',
        'results',
        'released after s',
        'local sessions',
        'connections',
        'engine actors',
        'owned sessions',
        'consumers',
      ],
      rows: sessions.map((o) => [
        o.index,
        o.clients,
        o.startedAtS,
        o.endedAtS,
        o.sent,
        o.stored ?? 'n/a',
        o.results.ok ? 'exact' : 'WRONG',
        o.release.ok ? o.release.seconds : `NOT (${o.release.seconds})`,
        pair(o.release.observed.localSessions, o.release.expected.localSessions),
        pair(o.release.observed.openConnections, o.release.expected.openConnections),
        pair(o.release.observed.liveActors, o.release.expected.liveActors),
        pair(o.release.observed.ownedPartitions, o.release.expected.ownedPartitions),
        pair(o.release.observed.consumers, o.release.expected.consumers),
      ]),
    },
    {
      title: 'RSS (MB) of each process right after each session was released',
      columns: ['session', ...names],
      rows: sessions.map((o) => [o.index, ...names.map((n) => o.after.procs[n]?.rssMb ?? '–')]),
    },
    {
      title: 'Growth from session 2 to the last (least-squares slope)',
      columns: [
        'process',
        'RSS after 2nd MB',
        'RSS after last MB',
        'RSS MB/session',
        'heap used MB/session',
        'judged',
      ],
      rows: growth.map((g) => [
        g.name,
        g.first ?? '–',
        g.last ?? '–',
        g.rssSlope,
        g.heapSlope ?? '–',
        judged(g.name) ? (g.rssSlope > RSS_TOLERANCE_MB_PER_SESSION ? 'GROWS' : 'ok') : 'reported only',
      ]),
    },
    {
      title: 'Per process over the whole soak',
      columns: [
        'process',
        'CPU mean %',
        'CPU max %',
        'RSS min MB',
        'RSS max MB',
        'loop lag p99 max ms',
        'loop lag p99 median ms',
      ],
      rows: names.map((n) => {
        const cpu = run.samples.map((x) => x.procs[n]?.cpu).filter((v): v is number => v !== undefined);
        const rss = run.samples.map((x) => x.procs[n]?.rssMb).filter((v): v is number => v !== undefined);
        const lag = lagOf(n).sort((a, b) => a - b);
        return [
          n,
          round(cpu.reduce((a, b) => a + b, 0) / Math.max(1, cpu.length), 1),
          Math.max(0, ...cpu),
          Math.min(...rss),
          Math.max(0, ...rss),
          lag.length ? round(lag[lag.length - 1]) : '–',
          lag.length ? round(lag[Math.floor(lag.length / 2)]) : '–',
        ];
      }),
    },
  ];
}

function chartsOf(run: SoakRun): ChartSpec[] {
  const names = [...new Set(run.samples.flatMap((x) => Object.keys(x.procs)))];
  const services = names.filter((n) => n !== 'harness');
  const t = run.samples.map((x) => x.t);
  const series = (
    title: string,
    yLabel: string,
    pick: (p: SoakSample['procs'][string]) => number | undefined,
    who = services,
  ): ChartSpec => ({
    title,
    type: 'line',
    labels: t,
    yLabel,
    datasets: who.map((n) => ({
      label: n,
      data: run.samples.map((x) => {
        const p = x.procs[n];
        return p ? (pick(p) ?? null) : null;
      }),
    })),
  });
  const sum = (pick: (p: SoakSample['procs'][string]) => number | undefined) =>
    run.samples.map((x) => Object.values(x.procs).reduce((n, p) => n + (pick(p) ?? 0), 0));
  const sessions = [...run.sessions].sort((a, b) => a.index - b.index);
  return [
    series('RSS (MB) over time, per process', 'MB', (p) => p.rssMb, names),
    series(
      'event-loop lag p99 (ms) per 5 s window (nodejs_eventloop_lag_p99_seconds)',
      'ms',
      (p) => p.lagP99Ms,
      services.filter((n) => n !== 'nats'),
    ),
    series(
      'event-loop lag (ms) at each scrape (nodejs_eventloop_lag_seconds)',
      'ms',
      (p) => p.lagMs,
      services.filter((n) => n !== 'nats'),
    ),
    series(
      'heap used (MB)',
      'MB',
      (p) => p.heapMb,
      services.filter((n) => n !== 'nats'),
    ),
    series('CPU (% of one core)', '%', (p) => p.cpu, names),
    {
      title: 'what the services hold (summed over gateways / engines)',
      type: 'line',
      labels: t,
      datasets: [
        { label: 'gateway local sessions', data: sum((p) => p.localSessions) },
        { label: 'engine live actors', data: sum((p) => p.liveActors) },
        { label: 'engine owned sessions', data: sum((p) => p.ownedPartitions) },
        { label: 'ratings stream consumers', data: run.samples.map((x) => x.consumers ?? null) },
      ],
    },
    {
      title: 'open WebSocket connections (gateways)',
      type: 'line',
      labels: t,
      datasets: [{ label: 'connections', data: sum((p) => p.openConnections) }],
    },
    {
      title: 'RSS (MB) right after each session was released',
      type: 'line',
      labels: sessions.map((o) => o.index),
      yLabel: 'MB',
      datasets: names.map((n) => ({ label: n, data: sessions.map((o) => o.after.procs[n]?.rssMb ?? null) })),
    },
    {
      title: 'ratings sent and rank frames received per second',
      type: 'line',
      labels: run.ticks.map((x) => x.t),
      datasets: [
        { label: 'ratings/s', data: run.ticks.map((x) => x.sent) },
        { label: 'rank frames/s', data: run.ticks.map((x) => x.rankFrames) },
      ],
    },
  ];
}

export function buildSoakReport(run: SoakRun): Report {
  const growth = growthOf(run.sessions);
  return {
    name: run.opts.name,
    mode: 'soak',
    command: run.opts.command,
    startedAt: run.startedAt,
    finishedAt: new Date().toISOString(),
    checks: checksOf(run, growth),
    tables: tablesOf(run, growth),
    charts: chartsOf(run),
    data: {
      plan: run.plan,
      baseline: run.baseline,
      final: run.final,
      growth,
      rssToleranceMbPerSession: RSS_TOLERANCE_MB_PER_SESSION,
      sessions: run.sessions,
      failures: run.failures,
      samples: run.samples,
      ticks: run.ticks,
    },
  };
}
