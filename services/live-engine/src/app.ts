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
import { ensureStreams } from './nats/streams.js';
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
 * Readiness as /readyz reports it: ready (200) unless NATS is down, the engine is not a live member or it is
 * stopping (503). ClickHouse down is listed in `degraded` but keeps the engine ready: ranks still flow.
 */
export interface EngineHealth {
  readonly ready: boolean;
  readonly nats: 'ok' | 'down';
  readonly clickhouse: 'ok' | 'down';
  readonly degraded: string[];
}

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
    this.store = new ClickHouseStore(deps.clickhouse, config.CLICKHOUSE_DB);
    this.js = jetstream(nc);
    const now = deps.now ?? Date.now;
    const versions = new VersionClock();
    this.ownership =
      deps.ownership ??
      (config.ENGINE_OWNERSHIP === 'leases'
        ? new LeaseOwnership(
            nc,
            this.names,
            { engineId: config.ENGINE_ID, ttlMs: config.ENGINE_LEASE_TTL_MS, now },
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
    await ensureStreams(this.jsm, this.names, config.NATS_STREAM_REPLICAS);
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
    await this.ownership.leave();
    await this.discovery?.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.registry.stopAll();
    await this.ownership.releaseAll();
  }

  async health(): Promise<EngineHealth> {
    const nats = this.natsConnected && !this.deps.nc.isClosed() ? 'ok' : 'down';
    const clickhouse = (await this.store.ping().catch(() => false)) ? 'ok' : 'down';
    const degraded: string[] = [];
    if (nats === 'down') degraded.push('nats: disconnected; no ratings consumed, no ranks published');
    if (clickhouse === 'down') degraded.push('clickhouse: unreachable; ratings held unacked in JetStream');
    for (const actor of this.registry.all()) {
      if (actor.degraded) degraded.push(`session ${actor.sessionId}: ClickHouse writes retrying`);
    }
    const member = this.ownership.ready;
    if (this.accepting && !member) degraded.push('membership: not a live engine member; takes no sessions');
    return {
      // ClickHouse down only degrades: ranks still flow and raw writes retry (ratings stay unacked).
      ready: this.accepting && member && nats === 'ok',
      nats,
      clickhouse,
      degraded,
    };
  }

  private each(f: (actor: SessionActor) => void): void {
    for (const actor of this.registry.all()) f(actor);
  }
}

export const buildEngine = (deps: EngineDeps): Engine => new Engine(deps);
