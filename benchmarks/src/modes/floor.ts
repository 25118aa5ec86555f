import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { LoadPool, type PoolInterval } from '../client/load-pool.js';
import { defaultWorkerCount, workerClients, type ClientChoice } from '../client/load-client.js';
import type { ClientSpec } from '../client/protocol.js';
import { LatencyRecorder, type Percentiles } from '../metrics/latency.js';
import {
  clientCosts,
  HarnessCostMeter,
  ServerCostMeter,
  type ClientCost,
  type ServerCost,
} from '../metrics/cpu-time.js';
import { sleep } from '../stack/ports.js';
import { percentiles } from './stampede.js';
import type { Report } from '../report/report.js';

export interface FloorOptions {
  name: string;
  command: string;
  participants: number;
  /** Ratings per second per device. */
  rate: number;
  durationSec: number;
  rampMs: number;
  /** Floor server processes, the devices spread over them as over gateways. */
  servers: number;
  /**
   * The class starts as on a gateway: devices are welcomed waiting, then every device gets `started` and, a tick
   * later, its first rank frame; without it they are live from their welcome.
   */
  start?: boolean;
  workers?: number;
  client?: ClientChoice;
  log?: (line: string) => void;
}

export interface FloorRun {
  opts: Omit<FloorOptions, 'log'>;
  connected: number;
  connectFailures: string[];
  settled: { settled: number; unsettled: number };
  sent: number;
  rankFrames: number;
  latency: Percentiles;
  latencyTimeline: Array<{ t: number } & Percentiles>;
  maxGapMs: { p50: number; p99: number; max: number; over1000: number };
  /** The floor servers' CPU (`floor-<n>`) over the play, and per participant-second. */
  serverCost: ServerCost;
  harness: { cpuSec: number; usPerParticipantSecond: number; byClient: ClientCost[] };
}

const SETTLE_TIMEOUT_MS = 10_000;
const STATS_FLUSH_MS = 1_100;
const SERVER_ENTRY = fileURLToPath(new URL('../floor/transport-floor.js', import.meta.url));

/** Starts one floor server process and resolves with it and its port once it listens. */
async function startServer(waiting: boolean): Promise<{ child: ChildProcess; port: number }> {
  const args = waiting ? [SERVER_ENTRY, '0', 'waiting'] : [SERVER_ENTRY, '0'];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the floor server exited (${code}) before it listened`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`the floor server said "${line}"`));
      }
    });
  });
  child.removeAllListeners('exit');
  return { child, port };
}

/**
 * The transport floor (issue 12): the same devices as the live mode, driven the same way, against bare `ws`
 * servers with the gateway's frame policy and nothing behind them (`floor/transport-floor.ts`). Reports the
 * servers' CPU per participant-second — what the frames alone cost on this machine — to read the live
 * pipeline's cost against, measured side by side on the same box.
 */
export async function runFloor(opts: FloorOptions): Promise<Report> {
  const log = opts.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const servers = await Promise.all(
    Array.from({ length: Math.max(1, opts.servers) }, () => startServer(opts.start === true)),
  );
  const recorder = new LatencyRecorder();
  let t0 = 0;
  let sent = 0;
  let rankFrames = 0;
  const pool = new LoadPool(
    workerClients(opts.workers ?? defaultWorkerCount(opts.participants), opts.client ?? 'sdk'),
    (i: PoolInterval) => {
      recorder.record(i.latencies);
      if (t0 === 0) return;
      sent += i.sent;
      rankFrames += i.rankFrames;
      recorder.closeInterval(Math.round((Date.now() - t0) / 1000));
    },
  );
  try {
    const clients: ClientSpec[] = Array.from({ length: opts.participants }, (_, i) => ({
      userId: randomUUID(),
      url: `ws://127.0.0.1:${servers[i % servers.length].port}/live`,
      ticket: 'floor',
    }));
    log(`connecting ${clients.length} devices to ${servers.length} floor server(s) over ${opts.rampMs} ms`);
    const connected = await pool.connect(clients, opts.rampMs);
    const playing = pool.play(opts.rate, 0);
    if (opts.start === true) {
      log('starting the class on every floor server');
      for (const s of servers) s.child.stdin!.write('start\n');
    }
    await playing;
    t0 = Date.now();
    const cost = new ServerCostMeter(
      () => Object.fromEntries(servers.map((s, i) => [`floor-${i + 1}`, s.child.pid!])),
      /^floor-/,
    );
    cost.begin();
    const harness = new HarnessCostMeter();
    harness.begin();
    const workerCpuBefore = await pool.cpu();
    await sleep(opts.durationSec * 1000);
    await pool.stop();
    const settled = await pool.settle(SETTLE_TIMEOUT_MS);
    const serverCost = cost.end(connected.ok, opts.durationSec);
    const harnessCost = harness.end(connected.ok, opts.durationSec);
    const byClient = clientCosts(workerCpuBefore, await pool.cpu(), opts.durationSec);
    await sleep(STATS_FLUSH_MS);
    const summaries = await pool.summary(0);
    const gaps = percentiles(summaries.map((s) => s.maxRankGapMs));
    const run: FloorRun = {
      opts: { ...opts, log: undefined } as FloorRun['opts'],
      connected: connected.ok,
      connectFailures: connected.failed.slice(0, 20),
      settled,
      sent,
      rankFrames,
      latency: recorder.summary(),
      latencyTimeline: recorder.timeline,
      maxGapMs: {
        p50: gaps.p50,
        p99: gaps.p99,
        max: gaps.max,
        over1000: summaries.filter((s) => s.maxRankGapMs > 1000).length,
      },
      serverCost,
      harness: {
        cpuSec: harnessCost.cpuSec,
        usPerParticipantSecond: harnessCost.usPerParticipantSecond,
        byClient,
      },
    };
    log(
      `floor servers' CPU per participant-second: ${serverCost.usPerParticipantSecond} µs ` +
        `(${JSON.stringify(serverCost.cpuSecByProcess)} CPU s)`,
    );
    return floorReport(opts, startedAt, run);
  } finally {
    recorder.destroy();
    await pool.close();
    for (const s of servers) s.child.kill('SIGTERM');
  }
}

function floorReport(opts: FloorOptions, startedAt: string, run: FloorRun): Report {
  const played = Math.max(1, opts.durationSec);
  const l = run.latency;
  return {
    name: opts.name,
    mode: 'floor',
    command: opts.command,
    startedAt,
    finishedAt: new Date().toISOString(),
    checks: [
      {
        name: 'all devices connected',
        ok: run.connected === opts.participants,
        detail: `${run.connected}/${opts.participants} connected`,
      },
      {
        name: 'every last rating answered',
        ok: run.settled.unsettled === 0,
        detail: `${run.settled.unsettled} devices without a frame counting their last seq`,
      },
    ],
    tables: [
      {
        title: 'Run',
        columns: ['figure', 'value'],
        rows: [
          ['devices × floor servers', `${run.connected} × ${opts.servers}`],
          ['rate per device (ratings/s)', opts.rate],
          ['duration (s)', opts.durationSec],
          ['ratings sent/s (mean)', Math.round(run.sent / played)],
          ['rank frames received/s (mean)', Math.round(run.rankFrames / played)],
          [
            'floor servers CPU s (play start → last rating answered)',
            Object.values(run.serverCost.cpuSecByProcess).join(' + '),
          ],
          [
            '**floor servers CPU per participant-second (µs; the figure to read the pipeline against)**',
            run.serverCost.usPerParticipantSecond,
          ],
          [
            'load generator CPU per participant-second (µs; the harness, not the floor)',
            run.harness.usPerParticipantSecond,
          ],
        ],
      },
      {
        title: 'rating → own rank frame latency (ms)',
        columns: ['count', 'p50', 'p90', 'p99', 'p99.9', 'max'],
        rows: [[l.count, l.p50, l.p90, l.p99, l.p999, l.max]],
      },
      {
        title: 'largest gap between two rank frames, per device (ms)',
        columns: ['p50', 'p99', 'max', 'devices over 1000 ms'],
        rows: [[run.maxGapMs.p50, run.maxGapMs.p99, run.maxGapMs.max, run.maxGapMs.over1000]],
      },
    ],
    charts: [
      {
        title: 'rating → own rank frame latency per second (ms)',
        type: 'line',
        labels: run.latencyTimeline.map((p) => p.t),
        datasets: (['p50', 'p99', 'max'] as const).map((k) => ({
          label: k,
          data: run.latencyTimeline.map((p) => p[k]),
        })),
        yLabel: 'ms',
      },
    ],
    data: run,
  };
}
