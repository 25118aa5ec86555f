import type { ClientSummary } from '../client/protocol.js';
import type { PoolInterval } from '../client/load-pool.js';
import { START_SECONDS, type Percentiles } from '../metrics/latency.js';
import type { ResourceSample } from '../metrics/resources.js';
import type { ClientCost, HarnessCost, ServerCost } from '../metrics/cpu-time.js';
import type { StoredRatings } from '../metrics/stored-ratings.js';
import type { ChartSpec, Report } from '../report/report.js';
import type { LiveOptions } from './live.js';

export type TimelinePoint = Omit<PoolInterval, 'latencies'> & {
  t: number;
  latencies?: undefined;
  p50: number;
  p99: number;
  max: number;
  lag: number;
};

export interface LiveRun {
  opts: LiveOptions;
  startedAt: string;
  setupSec: number;
  workers: number;
  /** The client(s) the devices ran: `sdk`, `bare` or `sdk + bare` (`--client both`). */
  clientKinds: string;
  clients: number;
  connected: number;
  connectFailures: string[];
  notLive: number;
  settled: { settled: number; unsettled: number };
  /** Ended under load (`endAfterSec`): devices that got `ended`, and how long until the last one did. */
  endUnderLoad?: { ended: number; withoutEnded: number; endedWithinMs: number };
  summaries: ClientSummary[];
  stored: StoredRatings | undefined;
  latency: Percentiles;
  /** The same after the play's first START_SECONDS (metrics/latency.ts): what the play holds past its start. */
  latencyAfterStart: Percentiles;
  latencyTimeline: Array<{ t: number } & Percentiles>;
  timeline: TimelinePoint[];
  resources: ResourceSample[];
  resourceSummary: Record<string, { cpuMean: number; cpuMax: number; rssMaxMb: number }>;
  /** Each service's own /metrics series at the end of the play (generic process series left out). */
  serviceMetrics: Record<string, Record<string, number>>;
  /** Gateways + engines + NATS CPU from the start of the play until every rating was ranked. */
  serverCost: ServerCost;
  /** The harness's own CPU (main thread + load workers) over the same window (issue 15). */
  harnessCost: HarnessCost;
  /** From the first session start request to the last answer. */
  startSpreadMs: number;
}

/** Correctness of a live run: what was sent against what Pulse ranked and stored. */
export function liveCorrectness(run: LiveRun) {
  const sent = run.summaries.reduce((n, s) => n + s.sent, 0);
  const refusals = run.summaries.reduce((n, s) => n + s.refusals, 0);
  const reconnects = run.summaries.reduce((n, s) => n + s.reconnects, 0);
  const expected = sent;
  const rankMismatches = run.summaries.filter((s) => s.lastRankScore !== s.expectedScore);
  const storedMismatches = run.stored
    ? run.summaries.filter((s) => {
        const u = run.stored!.perUser.get(s.userId) ?? { count: 0, energy: 0 };
        return u.count !== s.sent || u.energy !== s.expectedScore;
      })
    : [];
  const stored = run.stored?.stored;
  return {
    sent,
    refusals,
    reconnects,
    expected,
    stored,
    lost: stored === undefined ? undefined : Math.max(0, expected - stored),
    extra: stored === undefined ? undefined : Math.max(0, stored - expected),
    rankMismatches,
    storedMismatches,
    violations: run.summaries.flatMap((s) => s.protocolViolations).slice(0, 10),
  };
}

const pct = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

export function buildLiveReport(run: LiveRun): Report {
  const { opts } = run;
  const c = liveCorrectness(run);
  const seconds = Math.max(1, run.timeline.length);
  const totalRanks = run.timeline.reduce((n, p) => n + p.rankFrames, 0);
  const errorsByCode: Record<string, number> = {};
  for (const s of run.summaries)
    for (const [code, n] of Object.entries(s.errors)) errorsByCode[code] = (errorsByCode[code] ?? 0) + n;
  const gaps = run.summaries.map((s) => s.maxRankGapMs);
  const mismatch = (list: ClientSummary[]) =>
    list.length === 0
      ? 'none'
      : `${list.length}, e.g. ${list[0].userId}: expected ${list[0].expectedScore}, rank frame ${list[0].lastRankScore}`;
  const ended = run.endUnderLoad;
  const notTaken = run.summaries.reduce((n, s) => n + s.notTakenAtEnd, 0);
  const told = run.summaries.filter((s) => s.endedLastSeq !== null).length;
  // A device's live session ends on its own only with its session (ended); any other end state is a device
  // the harness lost mid-run (replaced by a takeover, failed on a close code, closed by the server).
  const endStates: Record<string, number> = {};
  for (const s of run.summaries) if (s.endedAs) endStates[s.endedAs] = (endStates[s.endedAs] ?? 0) + 1;
  const endedEarly = Object.entries(endStates)
    .filter(([as]) => !as.startsWith('ended '))
    .reduce((n, [, count]) => n + count, 0);
  const checks = [
    {
      name: 'all clients connected and live',
      ok: run.connected === run.clients && run.notLive === 0,
      detail: `${run.connected}/${run.clients} connected, ${run.notLive} never live`,
    },
    {
      name: 'no device dropped out before its session ended',
      ok: endedEarly === 0,
      detail: `${endedEarly} live sessions ended on their own before their session did; end states by close code: ${JSON.stringify(endStates)}`,
    },
    ended === undefined
      ? {
          name: 'every last rating ranked',
          ok: run.settled.unsettled === 0,
          detail: `${run.settled.unsettled} clients without a rank frame counting their last seq`,
        }
      : {
          name: 'every device told where its ratings stop (ended.lastSeq)',
          ok: told === run.connected,
          detail:
            `${told}/${run.connected} got ended with lastSeq within ${ended.endedWithinMs} ms of the first ` +
            `POST /end; ${notTaken} ratings sent were not taken (refused with a code, or sent after the end)`,
        },
    {
      name: 'zero lost ratings',
      ok: c.lost === 0,
      detail:
        c.stored === undefined
          ? 'not checked (no ClickHouse database known)'
          : `${c.expected} accepted, ${c.stored} stored, ${c.lost} lost`,
    },
    {
      name: 'zero doubled ratings',
      ok: c.extra === 0 && c.storedMismatches.length === 0,
      detail:
        c.stored === undefined
          ? 'not checked'
          : `${c.extra} extra rows; users whose stored count/sum differs: ${c.storedMismatches.length}`,
    },
    ...(ended === undefined
      ? [
          {
            name: 'last rank frame score exact',
            ok: c.rankMismatches.length === 0,
            detail: `mismatches: ${mismatch(c.rankMismatches)}`,
          },
        ]
      : []),
    {
      name: 'frames follow the contract',
      ok: c.violations.length === 0,
      detail: c.violations[0] ?? 'no violations',
    },
  ];
  const resourceRows = Object.entries(run.resourceSummary).map(([name, r]) => [
    name,
    r.cpuMean,
    r.cpuMax,
    r.rssMaxMb,
  ]);
  const times = run.timeline.map((p) => p.t);
  const procNames = Object.keys(run.resourceSummary);
  const charts: ChartSpec[] = [
    {
      title: 'rating → own rank latency (ms), per second',
      type: 'line',
      labels: run.latencyTimeline.map((p) => p.t),
      yLabel: 'ms',
      datasets: (['p50', 'p90', 'p99', 'p999', 'max'] as const).map((k) => ({
        label: k,
        data: run.latencyTimeline.map((p) => p[k]),
      })),
    },
    {
      title: 'throughput per second',
      type: 'line',
      labels: times,
      datasets: [
        { label: 'ratings sent/s', data: run.timeline.map((p) => p.sent) },
        { label: 'rank frames/s', data: run.timeline.map((p) => p.rankFrames) },
        { label: 'consumer lag (msgs)', data: run.timeline.map((p) => p.lag) },
        { label: 'unconfirmed ratings', data: run.timeline.map((p) => p.unconfirmed) },
      ],
    },
    {
      title: "load workers' event-loop delay (ms), the worst worker per second",
      type: 'line',
      labels: times,
      yLabel: 'ms',
      datasets: [{ label: 'max', data: run.timeline.map((p) => p.loopDelayMaxMs) }],
    },
    {
      title: 'CPU (% of one core)',
      type: 'line',
      labels: run.resources.map((s) => s.t),
      yLabel: '%',
      datasets: procNames.map((n) => ({ label: n, data: run.resources.map((s) => s.procs[n]?.cpu ?? null) })),
    },
    {
      title: 'RSS (MB)',
      type: 'line',
      labels: run.resources.map((s) => s.t),
      yLabel: 'MB',
      datasets: procNames.map((n) => ({
        label: n,
        data: run.resources.map((s) => s.procs[n]?.rssMb ?? null),
      })),
    },
  ];
  return {
    name: opts.name,
    mode: 'live',
    command: opts.command,
    startedAt: run.startedAt,
    finishedAt: new Date().toISOString(),
    checks,
    tables: [
      {
        title: 'Run',
        columns: ['figure', 'value'],
        rows: [
          ['sessions × participants', `${opts.sessions} × ${opts.participants}`],
          [
            'personal boards (issue 16)',
            opts.filters
              ? `on: every trainee on an age band's board, following ${opts.filters.follows} others`
              : 'off',
          ],
          ['rate per participant (ratings/s)', opts.rate],
          ['duration (s)', opts.durationSec],
          ['setup: register + join (s)', run.setupSec],
          [
            `sessions started within (ms; ${opts.topOfHour ? 'all at once: top of the hour' : '8 at a time'})`,
            run.startSpreadMs,
          ],
          ['load worker threads (client)', `${run.workers} (${run.clientKinds})`],
          ['ratings sent (distinct seqs)', c.sent],
          ['resends (must count once)', run.timeline.reduce((n, p) => n + p.resent, 0)],
          ['ratings accepted/s (mean over the play time)', Math.round(c.expected / opts.durationSec)],
          ['rank frames delivered/s (mean)', Math.round(totalRanks / seconds)],
          ['error frames by code', JSON.stringify(errorsByCode)],
          ['refusals (client resent from the refused seq)', c.refusals],
          ['reconnects after the welcome (the SDK resumed and resent)', c.reconnects],
          ["devices' end states (the SDK's state and close code)", JSON.stringify(endStates)],
          ['stored in ClickHouse', c.stored ?? 'n/a'],
          ['lost / doubled', `${c.lost ?? 'n/a'} / ${c.extra ?? 'n/a'}`],
          ['max consumer lag (msgs)', Math.max(0, ...run.timeline.map((p) => p.lag))],
          [
            'server CPU per participant-second (µs; gateways + engines + NATS)',
            run.serverCost.usPerParticipantSecond,
          ],
          [
            'server CPU seconds by process (play start → last rating ranked)',
            JSON.stringify(run.serverCost.cpuSecByProcess),
          ],
          [
            'harness CPU per participant-second (µs; the load generator: main thread + workers, same window)',
            run.harnessCost.usPerParticipantSecond,
          ],
          [
            'harness CPU seconds: user / system; voluntary context switches (event-loop sleeps)',
            `${run.harnessCost.userSec} / ${run.harnessCost.systemSec}; ${run.harnessCost.voluntaryContextSwitches}`,
          ],
          ...clientCostRows(run.harnessCost.byClient ?? []),
          [
            "load workers' event-loop delay (ms; the worst worker's each second: median second / worst second)",
            loopDelayRow(run.timeline),
          ],
          [
            "gateways' own rating → rank frame written (their histogram: share ≤ 250 ms / ≤ 1 s)",
            gatewayLatencyRow(run.serviceMetrics),
          ],
        ],
      },
      {
        title: 'rating → own rank frame latency (ms)',
        columns: ['ratings', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max'],
        rows: [
          latencyRow('all (the run, its start included)', run.latency),
          latencyRow(`after the first ${START_SECONDS} s of the play`, run.latencyAfterStart),
        ],
      },
      {
        title: 'largest gap between two rank frames, per client (ms)',
        columns: ['p50', 'p99', 'max', 'clients over 1000 ms'],
        rows: [
          [
            pct(gaps, 50),
            pct(gaps, 99),
            Math.round(Math.max(0, ...gaps)),
            gaps.filter((g) => g > 1000).length,
          ],
        ],
      },
      {
        title: 'CPU and memory',
        columns: ['process', 'CPU mean %', 'CPU max %', 'RSS max MB'],
        rows: resourceRows,
      },
    ],
    charts,
    data: {
      ...run,
      stored: run.stored && { stored: run.stored.stored, unique: run.stored.unique },
      summaries: undefined,
      errorsByCode,
      endStates,
    },
  };
}

/**
 * Each side's load workers, side by side in the same run (`--client both`, or any pair `a,b`): their threads' CPU
 * per participant-second, and the first side's over the second's, the figure issue 15 asks about.
 */
function clientCostRows(costs: readonly ClientCost[]): Array<[string, string | number]> {
  if (costs.length === 0) return [];
  const rows: Array<[string, string | number]> = [
    [
      "load workers' thread CPU per participant-second by client (µs; devices, CPU s)",
      costs.map((c) => `${c.kind} ${c.usPerParticipantSecond} (${c.devices}, ${c.cpuSec} s)`).join('; '),
    ],
  ];
  const [a, b] = costs;
  if (costs.length === 2 && b.usPerParticipantSecond > 0) {
    rows.push([
      `${a.kind} / ${b.kind} client, per participant-second`,
      (a.usPerParticipantSecond / b.usPerParticipantSecond).toFixed(3),
    ]);
  }
  return rows;
}

/** The load workers' event-loop delay over the seconds of the play: its median second and its worst. */
export function loopDelayRow(timeline: ReadonlyArray<{ loopDelayMaxMs: number }>): string {
  const delays = timeline.map((p) => p.loopDelayMaxMs);
  return delays.length === 0 ? 'n/a' : `${pct(delays, 50)} / ${Math.max(...delays)}`;
}

const GATEWAY_LATENCY = 'pulse_gateway_rating_to_rank_seconds_bucket';

/**
 * What the gateways measured themselves, summed over them: the share of ratings whose own rank frame was written
 * within 250 ms and 1 s of the rating's arrival. Beside the harness's latencies it says how much of a tail lies
 * outside the gateways (the devices' event loops, the sockets' queues, the box).
 */
export function gatewayLatencyRow(serviceMetrics: Record<string, Record<string, number>>): string {
  const count = (le: string) => {
    let n = 0;
    for (const [proc, series] of Object.entries(serviceMetrics)) {
      if (!proc.startsWith('gateway')) continue;
      for (const [key, value] of Object.entries(series)) {
        if (key.startsWith(`${GATEWAY_LATENCY}{`) && key.includes(`le="${le}"`)) n += value;
      }
    }
    return n;
  };
  const all = count('+Inf');
  if (all === 0) return 'n/a';
  const share = (le: string) => `${Math.round((1000 * count(le)) / all) / 10} %`;
  return `${share('0.25')} / ${share('1')} of ${all}`;
}

function latencyRow(label: string, l: Percentiles): Array<string | number> {
  return [label, l.count, l.p50, l.p90, l.p99, l.p999, l.max];
}
