import pidusage from 'pidusage';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { natsNames } from '@pulse/contracts';
import { parseGauges, type ServiceGauges } from './soak-plan.js';

/** One process at one moment: CPU (% of one core), RSS, and for a service its followed /metrics gauges. */
export type ProcessSample = { cpu: number; rssMb: number } & ServiceGauges;

export interface SoakSample {
  /** Seconds since the soak began. */
  t: number;
  procs: Record<string, ProcessSample>;
  /** Durable consumers on the ratings stream (one per ratings partition, whatever the sessions). */
  consumers?: number;
}

/** Sums of the release gauges over the services of each kind. */
export interface Holdings {
  localSessions: number;
  openConnections: number;
  liveActors: number;
  ownedPartitions: number;
  consumers: number;
}

export interface ProbeTargets {
  pids: () => Record<string, number>;
  serviceUrls: () => Record<string, string>;
}

/**
 * Samples every service process (pidusage + its /metrics) and NATS (pidusage + the ratings stream's
 * consumer count) every `intervalMs`, and answers on-demand reads for the release checks.
 */
export class SoakProbe {
  readonly samples: SoakSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = Date.now();

  private constructor(
    private readonly targets: ProbeTargets,
    private readonly nc: NatsConnection | undefined,
    private readonly jsm: JetStreamManager | undefined,
    private readonly namespace: string | undefined,
  ) {}

  static async open(targets: ProbeTargets, natsUrl: string, namespace?: string): Promise<SoakProbe> {
    if (!namespace) return new SoakProbe(targets, undefined, undefined, undefined);
    const nc = await connect({ servers: natsUrl });
    return new SoakProbe(targets, nc, await jetstreamManager(nc), namespace);
  }

  start(startedAt: number, intervalMs: number): void {
    this.startedAt = startedAt;
    this.timer = setInterval(() => void this.sample(true).catch(() => undefined), intervalMs);
  }

  /** One reading of every process; `keep` adds it to the time series. */
  async sample(keep = false): Promise<SoakSample> {
    const pids = this.targets.pids();
    const urls = this.targets.serviceUrls();
    const [usage, gauges, consumers] = await Promise.all([
      pidusage(Object.values(pids)).catch(() => ({}) as Record<number, pidusage.Status>),
      scrapeAll(urls),
      this.consumerCount(),
    ]);
    const procs: SoakSample['procs'] = {};
    for (const [name, pid] of Object.entries(pids)) {
      const u = (usage as Record<number, pidusage.Status | undefined>)[pid];
      if (!u) continue;
      procs[name] = {
        cpu: Math.round(u.cpu * 10) / 10,
        rssMb: Math.round((u.memory / 1048576) * 10) / 10,
        ...gauges[name],
      };
    }
    const sample = { t: Math.round((Date.now() - this.startedAt) / 100) / 10, procs, consumers };
    if (keep) this.samples.push(sample);
    return sample;
  }

  /** Current release gauges summed over gateways and engines (one /metrics read, no pidusage). */
  async holdings(): Promise<Holdings> {
    const [gauges, consumers] = await Promise.all([
      scrapeAll(this.targets.serviceUrls()),
      this.consumerCount(),
    ]);
    const h: Holdings = {
      localSessions: 0,
      openConnections: 0,
      liveActors: 0,
      ownedPartitions: 0,
      consumers: 0,
    };
    for (const g of Object.values(gauges)) {
      h.localSessions += g.localSessions ?? 0;
      h.openConnections += g.openConnections ?? 0;
      h.liveActors += g.liveActors ?? 0;
      h.ownedPartitions += g.ownedPartitions ?? 0;
    }
    h.consumers = consumers ?? 0;
    return h;
  }

  private async consumerCount(): Promise<number | undefined> {
    if (!this.jsm || !this.namespace) return undefined;
    try {
      const info = await this.jsm.streams.info(natsNames(this.namespace).ratingsStream);
      return info.state.consumer_count;
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await pidusage.clear();
    await this.nc?.close();
  }
}

async function scrapeAll(urls: Record<string, string>): Promise<Record<string, ServiceGauges>> {
  const out: Record<string, ServiceGauges> = {};
  await Promise.all(
    Object.entries(urls).map(async ([name, base]) => {
      try {
        const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3_000) });
        out[name] = parseGauges(await res.text());
      } catch {
        // a service that does not answer is reported by its absence
      }
    }),
  );
  return out;
}
