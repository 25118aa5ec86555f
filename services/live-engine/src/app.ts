import type { ClickHouseClient } from '@clickhouse/client';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsNames, type NatsNames } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { EngineConfig } from './config.js';
import { EngineMetrics } from './metrics.js';
import { SessionDiscovery } from './nats/discovery.js';
import { LeaseOwnership } from './nats/lease-ownership.js';
import { SessionFeed } from './nats/session-feed.js';
import { ensureStreams, readinessReport, streamSettings } from '@pulse/runtime';
import { SessionActor } from './session/actor.js';
import { ownEverything, type Ownership } from './session/ownership.js';
import { ActorRegistry } from './session/registry.js';
import { VersionClock } from './session/version-clock.js';
import { ClickHouseStore } from './storage/clickhouse.js';

export interface EngineDeps {
  readonly config: EngineConfig;
  readonly nc: NatsConnection;
  readonly clickhouse: ClickHouseClient;
  readonly log: Logger;
  readonly ownership?: Ownership;
  readonly now?: () => number;
}

/**
 * Readiness as /readyz reports it (the shared shape of @pulse/runtime): ready (200) unless NATS is down, the
 * engine is not a live member or it is not started / stopping (503). ClickHouse down is reported under
 * `degraded` but keeps the engine ready: ranks still flow and raw writes retry (ratings stay unacked).
 */
export type EngineHealth = ReturnType<typeof readinessReport>;

/** The live engine built from its dependencies: no listener, no process.env (see main.ts). */
export class Engine {
  readonly names: NatsNames;
  readonly metrics = new EngineMetrics();
  readonly store: ClickHouseStore;
  readonly registry: ActorRegistry;
  readonly ownership: Ownership;
  private readonly js: JetStreamClient;
  private jsm: JetStreamManager | null = null;
  private discovery: SessionDiscovery | null = null;
  private timers: NodeJS.Timeout[] = [];
  private accepting = false;
  private stopping = false;
  private natsConnected: boolean;

  constructor(private readonly deps: EngineDeps) {
    const { config, nc, log } = deps;
    this.natsConnected = !nc.isClosed();
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') this.natsConnected = false;
        if (status.type === 'reconnect') this.natsConnected = true;
      }
    })();
    this.names = natsNames(config.NATS_NAMESPACE);
    this.store = new ClickHouseStore(deps.clickhouse, config.CLICKHOUSE_DB, config.CLICKHOUSE_CLUSTER);
    this.js = jetstream(nc);
    const now = deps.now ?? Date.now;
    const versions = new VersionClock();
    this.ownership =
      deps.ownership ??
      (config.ENGINE_OWNERSHIP === 'leases'
        ? new LeaseOwnership(
            nc,
            this.names,
            {
              engineId: config.ENGINE_ID,
              ttlMs: config.ENGINE_LEASE_TTL_MS,
              replicas: config.NATS_STREAM_REPLICAS,
              maxBytes: config.NATS_ENGINES_KV_MAX_BYTES,
              now,
            },
            this.metrics,
            log,
          )
        : ownEverything);
    const ownership = this.ownership;
    const actorDeps = {
      nc,
      names: this.names,
      store: this.store,
      metrics: this.metrics,
      log,
      versions,
      now,
      batchMaxRows: config.CH_BATCH_MAX_ROWS,
      flushMs: config.CH_FLUSH_MS,
      allowance: { ratePerSec: config.SCORE_ALLOWANCE_PER_SEC, burst: config.SCORE_ALLOWANCE_BURST },
      owns: (sessionId: string) => ownership.owns(sessionId),
    };
    this.registry = new ActorRegistry(
      (sessionId, startedAtMs) => {
        const feed = new SessionFeed(this.js, this.jsm!, this.names, sessionId, config.ACK_WAIT_MS);
        return new SessionActor(sessionId, startedAtMs, config.MINUTE_MS, feed, actorDeps);
      },
      ownership,
      this.metrics,
      log,
      (sessionId) => this.store.isFinal(sessionId),
    );
  }

  /** Applies the ClickHouse DDL, ensures the streams, then discovers sessions and starts the tickers. */
  async start(): Promise<void> {
    const { config, nc, log } = this.deps;
    await this.store.applySchema();
    this.jsm = await jetstreamManager(nc);
    await ensureStreams(this.jsm, this.names, streamSettings(config));
    await this.ownership.start(this.registry);
    this.discovery = new SessionDiscovery(this.js, this.names, this.registry, this.store, log);
    await this.discovery.start();
    this.timers.push(setInterval(() => this.each((a) => a.postTick()), config.RANK_TICK_MS));
    this.timers.push(setInterval(() => this.each((a) => a.postResultsFlush()), config.RESULTS_FLUSH_MS));
    this.accepting = true;
    log.info({ engineId: config.ENGINE_ID, namespace: this.names.namespace }, 'live engine started');
  }

  /**
   * Graceful stop: not ready, leave the membership (peers recompute at once), no new sessions, each actor stores
   * and acks what it holds and writes standings, then every lease is deleted so peers take over at once.
   */
  async stop(): Promise<void> {
    this.accepting = false;
    this.stopping = true;
    await this.ownership.leave();
    await this.discovery?.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.registry.stopAll();
    await this.ownership.releaseAll();
  }

  async health(): Promise<EngineHealth> {
    const clickhouse = await this.store.ping().catch(() => false);
    const degraded = [...this.registry.all()]
      .filter((actor) => actor.degraded)
      .map((actor) => `session ${actor.sessionId}: ClickHouse writes retrying`);
    return readinessReport({
      draining: this.stopping,
      checks: {
        nats: this.natsConnected && !this.deps.nc.isClosed(),
        clickhouse,
        membership: this.ownership.ready,
        started: this.accepting,
      },
      required: ['nats', 'membership', 'started'],
      degraded,
      details: { liveActors: this.registry.size },
    });
  }

  private each(f: (actor: SessionActor) => void): void {
    for (const actor of this.registry.all()) f(actor);
  }
}

export const buildEngine = (deps: EngineDeps): Engine => new Engine(deps);
