import http from 'node:http';
import { loadavg } from 'node:os';
import { threadCpuUs } from '../metrics/cpu-time.js';
import { perRequest, processCpuMs } from '../metrics/process-cpu.js';
import type { Report, Table } from '../report/report.js';
import { ExpectedStandings } from '../verify/standings.js';

/** One app asking for its own results the moment its session ended. */
export interface StampedeParticipant {
  userId: string;
  token: string;
  sessionId: string;
}

/**
 * What each participant's `me.score` must be (the sum of what it sent, each seq once), by user id. A live run
 * knows it only once its devices have their `ended` frames, after the apps already asked: the answers are
 * checked once both are in.
 */
export type ExpectedScores = Promise<ReadonlyMap<string, number>>;

export interface StampedeOptions {
  /** Keep-alive connections shared by all participants (an app fleet behind a few ingress connections). */
  connections: number;
  /** Give up on a participant that is not answered 200 after this long. */
  patienceMs: number;
  /** Board page size each app asks for. */
  pageLimit: number;
  /** The api process, to report its CPU time per request (local stack). */
  apiPid?: number;
}

export const STAMPEDE_DEFAULTS: StampedeOptions = { connections: 64, patienceMs: 60_000, pageLimit: 20 };

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface StampedeResult {
  participants: number;
  answered: number;
  exact: number;
  mismatches: string[];
  requests: number;
  ok200: number;
  pending202: number;
  failures: number;
  /** From the first request (right after the first POST /end returned) to the last participant's 200, ms. */
  allAnsweredMs: number;
  /** From the sessions' POST /end (all returned) to the first 200 of each session, ms: p50/max. */
  firstServedAfterEndMs: { p50: number; max: number };
  /** Requests (all statuses) per second over allAnsweredMs. */
  reqPerSec: number;
  /** One request on its connection: from its socket to the last byte. */
  latency: Percentiles;
  /** The 200s only. */
  latency200: Percentiles;
  /**
   * Requests sent once their session had been answered 200 (its results frozen and served): what a request
   * costs when nothing is left to wait for. The others were sent before, and waited for the freeze.
   */
  latencyAfterFrozen: Percentiles & { count: number };
  /** Per participant: from the first request of the stampede to its 200 (includes 202 waits). */
  timeToAnswer: Percentiles;
  /** CPU ms of the api process per request, the freeze included (null when not local). */
  apiCpuMsPerRequest: number | null;
  /**
   * CPU ms of the harness's main thread per request: every request is sent, read and checked there. With
   * `--source live` the load workers' devices are threads of the same process, so the whole process's CPU
   * (`process.cpuUsage()`) would count their sockets closing too.
   */
  harnessCpuMsPerRequest: number;
  /** 1-min load average at the end: above 2 means others competed for the 2 cores. */
  loadAvg: number;
  /**
   * Keep-alive connections the requests shared, opened as the stampede began: a busy API accepts one new connection
   * per turn of its event loop, so more of them wait longer to be accepted (RESULTS.md, s32).
   */
  connections: number;
}

interface Reply {
  status: number;
  retryAfterSec: number;
  body: string;
  ms: number;
}

/**
 * Every participant asks `GET /v1/sessions/:id/results` at once, follows 202 + Retry-After like an app,
 * and its `me` is checked against what it sent (score exact; rank within its tie group of the session).
 */
export async function runStampede(
  apiUrl: string,
  participants: readonly StampedeParticipant[],
  /** When the session's POST /end returned (epoch ms); its participants ask from that moment on. */
  endedAtMs: (sessionId: string) => Promise<number>,
  expectedScores: ExpectedScores,
  options: StampedeOptions = STAMPEDE_DEFAULTS,
): Promise<StampedeResult> {
  const url = new URL(apiUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const answers: Array<{ p: StampedeParticipant; me: AnsweredMe }> = [];
  const latency: number[] = [];
  const latency200: number[] = [];
  const answerMs: number[] = [];
  const firstServed = new Map<string, number>();
  /** performance.now() when each session's first 200 arrived. */
  const firstServedAt = new Map<string, number>();
  const sent: Array<{ sessionId: string; at: number; ms: number }> = [];
  const mismatches: string[] = [];
  let requests = 0;
  let pending202 = 0;
  let failures = 0;
  let exact = 0;
  const apiCpuBefore = processCpuMs(options.apiPid);
  const harnessCpuBefore = harnessCpuUs();
  let t0 = Infinity;
  await Promise.all(
    participants.map(async (p) => {
      const path = `/v1/sessions/${p.sessionId}/results?limit=${options.pageLimit}`;
      const endedAt = await endedAtMs(p.sessionId);
      t0 = Math.min(t0, performance.now());
      const deadline = performance.now() + options.patienceMs;
      for (;;) {
        let reply: Reply;
        try {
          reply = await get(url, agent, path, p.token);
        } catch (err) {
          failures++;
          if (mismatches.length < 10) mismatches.push(`${p.userId}: ${(err as Error).message}`);
          return;
        }
        requests++;
        latency.push(reply.ms);
        sent.push({ sessionId: p.sessionId, at: performance.now() - reply.ms, ms: reply.ms });
        if (reply.status === 202 && performance.now() < deadline) {
          pending202++;
          await new Promise((r) => setTimeout(r, Math.max(0.05, reply.retryAfterSec) * 1000));
          continue;
        }
        if (reply.status !== 200) {
          failures++;
          if (mismatches.length < 10)
            mismatches.push(`${p.userId}: HTTP ${reply.status} ${reply.body.slice(0, 120)}`);
          return;
        }
        latency200.push(reply.ms);
        answerMs.push(performance.now() - t0);
        if (!firstServed.has(p.sessionId)) {
          firstServed.set(p.sessionId, Date.now() - endedAt);
          firstServedAt.set(p.sessionId, performance.now());
        }
        answers.push({ p, me: answeredMe(JSON.parse(reply.body)) });
        return;
      }
    }),
  );
  agent.destroy();
  const harnessCpuMs = (harnessCpuUs() - harnessCpuBefore) / 1000;
  const expected = await expectedScores;
  const standings = standingsPerSession(participants, expected);
  for (const { p, me } of answers) {
    const problem = checkMe(p, me, expected.get(p.userId) ?? 0, standings.get(p.sessionId)!);
    if (problem === null) exact++;
    else if (mismatches.length < 10) mismatches.push(problem);
  }
  const allAnsweredMs = answerMs.length === 0 ? 0 : Math.max(...answerMs);
  const served = [...firstServed.values()].sort((a, b) => a - b);
  return {
    participants: participants.length,
    answered: answerMs.length,
    exact,
    mismatches,
    requests,
    ok200: latency200.length,
    pending202,
    failures,
    allAnsweredMs: Math.round(allAnsweredMs),
    firstServedAfterEndMs: { p50: served[served.length >> 1] ?? 0, max: served.at(-1) ?? 0 },
    reqPerSec: allAnsweredMs === 0 ? 0 : Math.round((requests / allAnsweredMs) * 1000),
    latency: percentiles(latency),
    latency200: percentiles(latency200),
    latencyAfterFrozen: afterFrozen(sent, firstServedAt),
    timeToAnswer: percentiles(answerMs),
    apiCpuMsPerRequest: perRequest(apiCpuBefore, processCpuMs(options.apiPid), requests),
    harnessCpuMsPerRequest: requests === 0 ? 0 : Math.round((harnessCpuMs / requests) * 100) / 100,
    loadAvg: Math.round(loadavg()[0] * 10) / 10,
    connections: options.connections,
  };
}

/** This thread's CPU µs; the whole process's where the kernel does not tell a thread's. */
function harnessCpuUs(): number {
  const thread = threadCpuUs();
  if (thread !== null) return thread;
  const { user, system } = process.cpuUsage();
  return user + system;
}

function afterFrozen(
  sent: ReadonlyArray<{ sessionId: string; at: number; ms: number }>,
  firstServedAt: ReadonlyMap<string, number>,
): Percentiles & { count: number } {
  const ms = sent.filter((r) => r.at >= (firstServedAt.get(r.sessionId) ?? Infinity)).map((r) => r.ms);
  return { ...percentiles(ms), count: ms.length };
}

function standingsPerSession(
  participants: readonly StampedeParticipant[],
  expected: ReadonlyMap<string, number>,
) {
  const scores = new Map<string, Map<string, number>>();
  for (const p of participants) {
    let s = scores.get(p.sessionId);
    if (s === undefined) scores.set(p.sessionId, (s = new Map()));
    s.set(p.userId, round2(expected.get(p.userId) ?? 0));
  }
  return new Map([...scores].map(([id, s]) => [id, new ExpectedStandings(s)]));
}

/** What is checked of an answer (kept instead of the body until the expected scores are known). */
interface AnsweredMe {
  final: boolean;
  me?: { rank: number; score: number };
}

function answeredMe(body: { final?: boolean; me?: { rank: number; score: number } }): AnsweredMe {
  return { final: body.final === true, me: body.me && { rank: body.me.rank, score: body.me.score } };
}

function checkMe(
  p: StampedeParticipant,
  answer: AnsweredMe,
  expectedScore: number,
  standings: ExpectedStandings,
): string | null {
  if (!answer.final) return `${p.userId}: results not final`;
  if (answer.me === undefined) return `${p.userId}: no me`;
  if (answer.me.score !== round2(expectedScore))
    return `${p.userId}: score ${answer.me.score}, sent ${round2(expectedScore)}`;
  const [lo, hi] = standings.rankRange(p.userId);
  if (answer.me.rank < lo || answer.me.rank > hi)
    return `${p.userId}: rank ${answer.me.rank}, expected ${lo}..${hi}`;
  return null;
}

function get(url: URL, agent: http.Agent, path: string, token: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let started = 0;
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'GET',
        agent,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfterSec: Number(res.headers['retry-after'] ?? 1),
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    // Timed from the moment the request has a connection: the queue in front of the pool is the client's.
    req.on('socket', () => (started = performance.now()));
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 10) / 10;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: Math.round(sorted[sorted.length - 1] * 10) / 10 };
}

/** Targets of issue 13 on this box. */
export const STAMPEDE_TARGETS = {
  allAnsweredMs: 5_000,
  reqPerSec: 2_000,
  p99Ms: 100,
  servedAfterEndMs: 2_000,
};

/** The stampede's checks and table, to append to a report. */
export function stampedeSection(r: StampedeResult): Pick<Report, 'checks' | 'tables'> {
  const table: Table = {
    title: `results stampede: ${r.participants} participants at once`,
    columns: ['figure', 'value', 'target'],
    rows: [
      ['participants answered (200)', `${r.answered} / ${r.participants}`, 'all'],
      ['keep-alive connections, opened as the stampede began', r.connections, ''],
      ['`me` exact (score; rank within its tie group)', `${r.exact} / ${r.participants}`, 'all'],
      [
        'first 200 after POST /end, p50 / max over sessions (ms)',
        `${r.firstServedAfterEndMs.p50} / ${r.firstServedAfterEndMs.max}`,
        '≤ 2,000',
      ],
      ['all answered, from the first request (ms)', r.allAnsweredMs, '≤ 5,000'],
      ['requests (200 + 202 + failed)', `${r.requests} (${r.ok200} + ${r.pending202} + ${r.failures})`, ''],
      ['requests/s over that time', r.reqPerSec, '≥ 2,000'],
      ['latency per request p50 / p90 / p99 / max (ms)', fmt(r.latency), 'p99 ≤ 100'],
      ['latency of the 200s p50 / p90 / p99 / max (ms)', fmt(r.latency200), ''],
      [
        `latency of the ${r.latencyAfterFrozen.count} requests sent after their session's first 200 p50 / p90 / p99 / max (ms)`,
        fmt(r.latencyAfterFrozen),
        '',
      ],
      ['time to answer per participant p50 / p90 / p99 / max (ms)', fmt(r.timeToAnswer), ''],
      [
        'api CPU ms per request (the freeze included) / harness CPU ms per request (its main thread)',
        `${r.apiCpuMsPerRequest ?? '–'} / ${r.harnessCpuMsPerRequest}`,
        '',
      ],
      ['1-min load average at the end (2 cores)', r.loadAvg, ''],
    ],
  };
  return {
    checks: [
      {
        name: 'stampede: every participant answered with its exact `me`',
        ok: r.answered === r.participants && r.exact === r.participants,
        detail: `${r.exact} exact of ${r.participants}, ${r.failures} failed${r.mismatches.length ? `; e.g. ${r.mismatches.slice(0, 3).join('; ')}` : ''}`,
      },
    ],
    tables: [table],
  };
}

const fmt = (p: Percentiles) => `${p.p50} / ${p.p90} / ${p.p99} / ${p.max}`;

/** A promise and its resolve: a session's end, awaited by its participants before it happens. */
export function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
