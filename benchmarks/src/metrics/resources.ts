import { readdirSync, readFileSync } from 'node:fs';
import pidusage from 'pidusage';

export interface ResourceSample {
  t: number;
  /** Per process name: CPU in % of one core, RSS in MB. */
  procs: Record<string, { cpu: number; rssMb: number }>;
}

/** The pid of the local nats-server (read from /proc), if one runs on this machine. */
export function findNatsServerPid(): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'nats-server') return Number(entry);
      } catch {
        // the process went away while we looked
      }
    }
  } catch {
    // no /proc (not Linux)
  }
  return undefined;
}

/** A Pulse service's entry as it appears on its command line (`npm start`, the k8s images, LocalStack). */
const SERVICE_ENTRY = /(?:^|\/)services\/(api|gateway|live-engine)\/dist\/src\/main\.js$/;
const SERVICE_NAME = { api: 'api', gateway: 'gateway', 'live-engine': 'engine' } as const;

/**
 * Names the Pulse service processes among `processes` (pid and argv): `api`, `gateway-<n>`, `engine-<n>`, numbered
 * in pid order per kind. A gateway of several processes is its primary and its workers, all on the same entry.
 */
export function servicePidsOf(
  processes: ReadonlyArray<{ pid: number; argv: string[] }>,
): Record<string, number> {
  const byKind = new Map<string, number[]>();
  for (const { pid, argv } of processes) {
    const kind = argv.map((arg) => SERVICE_ENTRY.exec(arg)?.[1]).find((k) => k !== undefined);
    if (kind === undefined) continue;
    const name = SERVICE_NAME[kind as keyof typeof SERVICE_NAME];
    byKind.set(name, [...(byKind.get(name) ?? []), pid]);
  }
  const named: Record<string, number> = {};
  for (const [name, pids] of byKind) {
    pids.sort((a, b) => a - b);
    if (name === 'api' && pids.length === 1) named.api = pids[0];
    else pids.forEach((pid, i) => (named[`${name}-${i + 1}`] = pid));
  }
  return named;
}

/**
 * The Pulse services running on this machine, found by their command lines in /proc (empty without /proc): what
 * the harness measures when its target is a deployment on loopback, such as `npm start`.
 */
export function findLocalServicePids(): Record<string, number> {
  const processes: Array<{ pid: number; argv: string[] }> = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
        processes.push({ pid: Number(entry), argv });
      } catch {
        // the process went away while we looked
      }
    }
  } catch {
    // no /proc (not Linux)
  }
  return servicePidsOf(processes);
}

/** Samples CPU and RSS of named processes (services, NATS, the harness itself) every `intervalMs`. */
export class ResourceSampler {
  readonly samples: ResourceSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = Date.now();

  constructor(private readonly pids: () => Record<string, number>) {}

  /** Starts sampling; sample times count from here. */
  start(intervalMs = 1_000): void {
    this.startedAt = Date.now();
    this.timer = setInterval(() => void this.sample(), intervalMs);
  }

  async sample(): Promise<ResourceSample | undefined> {
    const named = this.pids();
    const ids = Object.values(named);
    if (ids.length === 0) return undefined;
    try {
      const stats = await pidusage(ids);
      const procs: ResourceSample['procs'] = {};
      for (const [name, pid] of Object.entries(named)) {
        const s = stats[pid];
        if (s) procs[name] = { cpu: Math.round(s.cpu * 10) / 10, rssMb: Math.round(s.memory / 1048576) };
      }
      const sample = { t: Math.round((Date.now() - this.startedAt) / 100) / 10, procs };
      this.samples.push(sample);
      return sample;
    } catch {
      return undefined; // a process died between listing and sampling (e.g. a kill test)
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await pidusage.clear();
  }

  /** Per process: mean and max CPU %, max RSS MB over the run. */
  summary(): Record<string, { cpuMean: number; cpuMax: number; rssMaxMb: number }> {
    const out: Record<string, { cpuMean: number; cpuMax: number; rssMaxMb: number; n: number }> = {};
    for (const s of this.samples) {
      for (const [name, p] of Object.entries(s.procs)) {
        const o = (out[name] ??= { cpuMean: 0, cpuMax: 0, rssMaxMb: 0, n: 0 });
        o.cpuMean += p.cpu;
        o.n++;
        o.cpuMax = Math.max(o.cpuMax, p.cpu);
        o.rssMaxMb = Math.max(o.rssMaxMb, p.rssMb);
      }
    }
    return Object.fromEntries(
      Object.entries(out).map(([k, o]) => [
        k,
        { cpuMean: Math.round((o.cpuMean / o.n) * 10) / 10, cpuMax: o.cpuMax, rssMaxMb: o.rssMaxMb },
      ]),
    );
  }
}
