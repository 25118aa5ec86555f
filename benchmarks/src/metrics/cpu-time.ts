import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (`getconf CLK_TCK` is 100 here). */
export const CLOCK_TICKS_PER_SEC = 100;

/** Process names whose CPU counts as the server's cost (the harness and the API are left out). */
export const SERVER_PROCESS = /^(gateway|engine|nats)/;

/** Cumulative user + system CPU seconds of one process, or undefined when it is gone (or no /proc). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start after the last ')'; utime and stime are the
    // 14th and 15th fields of the line, i.e. the 12th and 13th after the command.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
  } catch {
    return undefined;
  }
}

/**
 * The CPU time the calling thread has run, in µs, or null where the kernel does not tell:
 * `/proc/thread-self/schedstat`'s first field (nanoseconds on a CPU). A load worker's sockets are read and
 * written on its own thread, so this is its devices' whole cost, the kernel's socket calls included, where
 * `process.cpuUsage()` counts every thread of the process.
 */
export function threadCpuUs(): number | null {
  try {
    const ns = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1000 : null;
  } catch {
    return null;
  }
}

/** One load worker's thread CPU at a moment (`LoadPool.cpu()`). */
export interface ThreadCpu {
  kind: string;
  devices: number;
  cpuUs: number | null;
}

/** The load workers' CPU per participant-second by client over a window (`--client both`: SDK against bare). */
export interface ClientCost {
  kind: string;
  devices: number;
  cpuSec: number;
  usPerParticipantSecond: number;
}

/**
 * Sums each client's workers between two `LoadPool.cpu()` readings (the same workers, in the same order);
 * empty when a thread's CPU is not known here.
 */
export function clientCosts(
  before: readonly ThreadCpu[],
  after: readonly ThreadCpu[],
  playedSec: number,
): ClientCost[] {
  const sums = new Map<string, { devices: number; cpuUs: number }>();
  for (let i = 0; i < after.length; i++) {
    const [b, a] = [before[i], after[i]];
    if (b?.cpuUs == null || a.cpuUs == null) return [];
    const sum = sums.get(a.kind) ?? { devices: 0, cpuUs: 0 };
    sum.devices += a.devices;
    sum.cpuUs += a.cpuUs - b.cpuUs;
    sums.set(a.kind, sum);
  }
  return [...sums].map(([kind, { devices, cpuUs }]) => ({
    kind,
    devices,
    cpuSec: Math.round(cpuUs / 1e4) / 100,
    usPerParticipantSecond:
      devices > 0 && playedSec > 0 ? Math.round((10 * cpuUs) / (devices * playedSec)) / 10 : 0,
  }));
}

export interface ServerCost {
  /** CPU seconds per process over the measured window. */
  readonly cpuSecByProcess: Record<string, number>;
  readonly serverCpuSec: number;
  readonly participantSeconds: number;
  /** Server CPU (gateways + engines + NATS) per participant-second, in microseconds. */
  readonly usPerParticipantSecond: number;
}

/**
 * Server CPU per participant-second (issue 12): the CPU time the gateways, engines and NATS spend between
 * `begin()` and `end()`, divided by participants × played seconds. Cumulative counters from /proc, so
 * nothing between two samples is missed. NATS is the machine's server: other work on it counts too.
 */
export class ServerCostMeter {
  private readonly before = new Map<string, { pid: number; cpu: number }>();

  constructor(
    private readonly pids: () => Record<string, number>,
    /** Which of the named processes count: the pipeline's by default; the floor mode's servers there. */
    private readonly counted: RegExp = SERVER_PROCESS,
  ) {}

  begin(): void {
    this.before.clear();
    for (const [name, pid] of Object.entries(this.pids())) {
      if (!this.counted.test(name)) continue;
      const cpu = cpuSeconds(pid);
      if (cpu !== undefined) this.before.set(name, { pid, cpu });
    }
  }

  end(participants: number, playedSec: number): ServerCost {
    const cpuSecByProcess: Record<string, number> = {};
    let serverCpuSec = 0;
    for (const [name, { pid, cpu }] of this.before) {
      const now = cpuSeconds(pid);
      if (now === undefined) continue;
      cpuSecByProcess[name] = Math.round((now - cpu) * 100) / 100;
      serverCpuSec += now - cpu;
    }
    const participantSeconds = participants * playedSec;
    return {
      cpuSecByProcess,
      serverCpuSec: Math.round(serverCpuSec * 100) / 100,
      participantSeconds,
      usPerParticipantSecond:
        participantSeconds > 0 ? Math.round((serverCpuSec * 1e6) / participantSeconds) : 0,
    };
  }
}

export interface HarnessCost {
  /** CPU seconds of this process (main thread and load worker threads) over the measured window. */
  readonly cpuSec: number;
  /** The same per participant-second, in microseconds: what one simulated device costs the generator. */
  readonly usPerParticipantSecond: number;
  /** Of `cpuSec`, the seconds in the process itself (JavaScript, GC, parsing) and in the kernel (socket calls). */
  readonly userSec: number;
  readonly systemSec: number;
  /** Times the process's threads slept on their own (waiting for events): a turn of an event loop each. */
  readonly voluntaryContextSwitches: number;
  /** The load workers' own threads by client, over the same window (filled in by the live mode). */
  readonly byClient?: readonly ClientCost[];
}

/**
 * The harness's own CPU per participant-second (issue 15: driving the devices through the SDK must not make
 * the harness slower per socket). `process.cpuUsage()` counts every thread of the process, so the load workers
 * are in it; measured over the same window as `ServerCostMeter`.
 */
export class HarnessCostMeter {
  private start: NodeJS.CpuUsage | undefined;
  private sleepsBefore = 0;

  begin(): void {
    this.start = process.cpuUsage();
    this.sleepsBefore = process.resourceUsage().voluntaryContextSwitches;
  }

  end(participants: number, playedSec: number): HarnessCost {
    const used = process.cpuUsage(this.start);
    const cpuUs = used.user + used.system;
    const participantSeconds = participants * playedSec;
    const seconds = (us: number) => Math.round(us / 1e4) / 100;
    return {
      cpuSec: seconds(cpuUs),
      usPerParticipantSecond: participantSeconds > 0 ? Math.round(cpuUs / participantSeconds) : 0,
      userSec: seconds(used.user),
      systemSec: seconds(used.system),
      voluntaryContextSwitches: process.resourceUsage().voluntaryContextSwitches - this.sleepsBefore,
    };
  }
}
