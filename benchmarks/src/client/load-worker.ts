import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { threadCpuUs } from '../metrics/cpu-time.js';
import { newLoadClient } from './load-client.js';
import type { LoadClient, WorkerClient } from './load-client.js';
import type {
  ClientSpec,
  ClientSummary,
  ConnectOutcome,
  WorkerCommand,
  WorkerCpu,
  WorkerStats,
} from './protocol.js';

const STATS_INTERVAL_MS = 1_000;
/** This worker's event-loop delay, reported and reset with each interval's stats. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const port = parentPort!;
/** The client this worker drives its devices with, and the label its CPU is reported under (LoadPool's `clients`). */
const { kind, label } = (workerData as WorkerClient | undefined) ?? { kind: 'sdk', label: 'sdk' };

/** One trainee: its device (the SDK's LiveSession, measured, or the bare baseline) and the energies it produced per seq. */
interface Player {
  spec: ClientSpec;
  device: LoadClient;
  /** The highest seq produced (the welcome's `lastSeq` before the first rating). */
  seq: number;
  energies: number[];
}

const players: Player[] = [];
let sent = 0;
let lastResent = 0;
let lastRankFrames = 0;
let lastErrors = 0;

/** Deterministic, varied energy: 20..100 in whole numbers, so scores are exact in binary floating point. */
const energyOf = (user: number, seq: number) => 20 + ((user * 7919 + seq * 104_729) % 81);
/** A stable number per user id, so that energies differ between users on every worker. */
function userSeed(userId: string): number {
  let h = 2166136261;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 16777619) >>> 0;
  return h % 1_000_003;
}

/** A device whose socket dropped before its welcome is retried by the SDK (backoff): this many sockets in all. */
const CONNECT_ATTEMPTS = 3;
const WELCOME_TIMEOUT_MS = 30_000 * CONNECT_ATTEMPTS;

async function connectAll(clients: ClientSpec[], rampMs: number): Promise<ConnectOutcome> {
  const failed: string[] = [];
  let retried = 0;
  const dropReasons: Record<string, number> = {};
  const start = performance.now();
  await Promise.all(
    clients.map(async (spec, i) => {
      const delay = clients.length > 1 ? (rampMs * i) / clients.length - (performance.now() - start) : 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const device = newLoadClient(kind, spec.url, spec.ticket);
      try {
        const welcome = await device.start(WELCOME_TIMEOUT_MS, CONNECT_ATTEMPTS);
        players.push({ spec, device, seq: welcome.lastSeq, energies: [] });
      } catch (err) {
        failed.push(`${spec.userId}: ${(err as Error).message}`);
      } finally {
        retried += Math.min(device.dropsBeforeWelcome, CONNECT_ATTEMPTS - 1);
        for (const [reason, n] of device.dropReasons) dropReasons[reason] = (dropReasons[reason] ?? 0) + n;
      }
    }),
  );
  return { ok: players.length, failed, retried, dropReasons };
}

/** The metronome's beat, about: devices rate in slots this long, all of a slot in the same turn of the event loop. */
const SLOT_MS = 10;
let metronome: NodeJS.Timeout | undefined;
/** The `before` client's timers, one per device (the harness before the SDK). */
const deviceTimers: NodeJS.Timeout[] = [];

/**
 * Starts each client's ratings once it is live (its welcome said so, or `started` arrived). Every device rates
 * once per interval at its own phase, a random slot of the interval; one timer per worker walks the slots, where a
 * timer per device woke the event loop once per device and rating (issue 15: the harness's cost per socket).
 * Slots missed while the loop was busy are caught up, so each device keeps its rate. The `before` client keeps a
 * timer per device, as the harness did before the SDK.
 */
async function play(ratePerSec: number, resendEvery: number): Promise<{ live: number; notLive: number }> {
  const intervalMs = 1000 / ratePerSec;
  const live = await Promise.allSettled(players.map((p) => p.device.waitLive()));
  stop();
  const ticks = players.map((p) => {
    const seed = userSeed(p.spec.userId);
    return () => {
      // A device rates while its session is live for it; the SDK sends each rating and resends what is refused.
      if (!p.device.isLive) return;
      const rating = p.device.rate(energyOf(seed, p.seq + 1));
      p.seq = rating.seq;
      p.energies[p.seq] = rating.energy;
      sent++;
      if (resendEvery > 0 && p.seq % resendEvery === 0 && p.seq > 1) {
        p.device.sendDuplicate(p.seq - 1, p.energies[p.seq - 1]);
      }
    };
  });
  if (kind === 'before') startDeviceTimers(ticks, intervalMs);
  else startMetronome(ticks, intervalMs);
  const notLive = live.filter((r) => r.status === 'rejected').length;
  return { live: live.length - notLive, notLive };
}

/** Each device in a random slot of the interval; one timer walks the slots, catching up the ones it missed. */
function startMetronome(ticks: ReadonlyArray<() => void>, intervalMs: number): void {
  // Whole slots per interval, so each device rates at exactly the asked rate.
  const slots: Array<Array<() => void>> = Array.from(
    { length: Math.max(1, Math.round(intervalMs / SLOT_MS)) },
    () => [],
  );
  const slotMs = intervalMs / slots.length;
  for (const tick of ticks) slots[Math.floor(Math.random() * slots.length)].push(tick);
  const start = performance.now();
  let next = 0;
  metronome = setInterval(() => {
    const due = Math.floor((performance.now() - start) / slotMs);
    for (; next <= due; next++) for (const tick of slots[next % slots.length]) tick();
  }, slotMs);
}

/** The harness before the SDK, issue 15's baseline: a timer per device from a random phase, and no metronome. */
function startDeviceTimers(ticks: ReadonlyArray<() => void>, intervalMs: number): void {
  for (const tick of ticks) {
    deviceTimers.push(
      setTimeout(() => {
        tick();
        deviceTimers.push(setInterval(tick, intervalMs));
      }, Math.random() * intervalMs),
    );
  }
}

function stop(): void {
  clearInterval(metronome);
  metronome = undefined;
  for (const timer of deviceTimers.splice(0)) clearInterval(timer);
}

/** Waits until every open client's last rank frame counts its last accepted seq. */
async function settle(timeoutMs: number): Promise<{ settled: number; unsettled: number }> {
  const results = await Promise.allSettled(
    players.map((p) =>
      p.seq === 0 || !p.device.open ? Promise.resolve() : p.device.waitForRankSeq(p.seq, timeoutMs),
    ),
  );
  const unsettled = results.filter((r) => r.status === 'rejected').length;
  return { settled: results.length - unsettled, unsettled };
}

/**
 * Waits until every client got `ended` (or its socket closed): the session was ended while its devices may
 * still have had ratings on their way (issue 14).
 */
async function awaitEnded(timeoutMs: number): Promise<{ ended: number; withoutEnded: number }> {
  await Promise.allSettled(
    players.map((p) =>
      p.device.ended !== undefined || !p.device.open ? Promise.resolve() : p.device.waitEnded(timeoutMs),
    ),
  );
  const ended = players.filter((p) => p.device.ended !== undefined).length;
  return { ended, withoutEnded: players.length - ended };
}

/**
 * Waits up to `ms` for every device to have closed with an end state (the gateway closes each socket moments after
 * its `ended` frame), so the summary's end states are whole rather than whatever had closed by the ends' answers.
 */
async function closedWithin(ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && players.some((p) => p.device.endedAs === undefined))
    await new Promise((resolve) => setTimeout(resolve, 50));
}

function summary(): ClientSummary[] {
  return players.map((p) => {
    // A device told at the end where its ratings stop expects exactly those up to it.
    const d = p.device;
    const endedLastSeq = d.ended?.lastSeq ?? null;
    const upTo = endedLastSeq ?? p.seq;
    let expectedScore = 0;
    let sentSeqs = 0;
    let notTakenAtEnd = 0;
    for (let s = 1; s <= p.seq; s++) {
      if (p.energies[s] === undefined) continue;
      if (s > upTo) {
        notTakenAtEnd++;
        continue;
      }
      expectedScore += p.energies[s];
      sentSeqs++;
    }
    return {
      userId: p.spec.userId,
      sent: sentSeqs,
      endedLastSeq,
      notTakenAtEnd,
      maxSeq: p.seq,
      refusals: d.refusals,
      reconnects: d.reconnects,
      expectedScore,
      lastRankScore: d.lastRank?.score ?? null,
      lastRank: d.lastRank?.rank ?? null,
      lastRankSeq: d.lastRank?.seq ?? null,
      rankFrames: d.rankFrames,
      maxRankGapMs: d.maxRankGapMs,
      endedAs: d.endedAs ?? null,
      errors: Object.fromEntries(d.errors),
      protocolViolations: d.protocolViolations.slice(0, 5),
    };
  });
}

function reportStats(): void {
  const latencies: number[] = [];
  let rankFrames = 0;
  let errors = 0;
  let connected = 0;
  let unconfirmed = 0;
  let resent = 0;
  for (const { device } of players) {
    for (const l of device.drainLatencies()) latencies.push(l);
    rankFrames += device.rankFrames;
    resent += device.resent;
    for (const n of device.errors.values()) errors += n;
    if (device.open) connected++;
    unconfirmed += device.unconfirmed;
  }
  const stats: WorkerStats = {
    evt: 'stats',
    latencies: Float64Array.from(latencies),
    sent,
    resent: resent - lastResent,
    rankFrames: rankFrames - lastRankFrames,
    errorFrames: errors - lastErrors,
    connected,
    unconfirmed,
    loopDelayMaxMs: Math.round(loopDelay.max / 1e5) / 10,
  };
  loopDelay.reset();
  sent = 0;
  lastResent = resent;
  lastRankFrames = rankFrames;
  lastErrors = errors;
  port.postMessage(stats, [stats.latencies.buffer as ArrayBuffer]);
}

const statsTimer = setInterval(reportStats, STATS_INTERVAL_MS);

async function handle(msg: WorkerCommand): Promise<unknown> {
  switch (msg.cmd) {
    case 'connect':
      return connectAll(msg.clients, msg.rampMs);
    case 'play':
      return play(msg.ratePerSec, msg.resendEvery);
    case 'stop':
      return stop();
    case 'settle':
      return settle(msg.timeoutMs);
    case 'awaitEnded':
      return awaitEnded(msg.timeoutMs);
    case 'summary':
      await closedWithin(msg.closeWaitMs);
      return summary();
    case 'cpu':
      return { kind: label, devices: players.length, cpuUs: threadCpuUs() } satisfies WorkerCpu;
    case 'close':
      stop();
      reportStats();
      clearInterval(statsTimer);
      await Promise.all(players.map((p) => p.device.close()));
      return undefined;
  }
}

port.on('message', (msg: WorkerCommand) => {
  handle(msg).then(
    (result) => port.postMessage({ id: msg.id, result }),
    (err: Error) => port.postMessage({ id: msg.id, error: err.stack ?? err.message }),
  );
});
