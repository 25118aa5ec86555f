import type { ClickHouseClient } from '@clickhouse/client';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { RATING_PARTITIONS, natsNames, type NatsNames } from '@pulse/contracts';
import type { MinuteRow, RatingRow, SessionResultRow, StandingRow } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { EngineConfig } from './config.js';
import { EngineMetrics } from './metrics.js';
import { SessionDiscovery } from './nats/discovery.js';
import { followGatewayPresence } from './nats/gateway-presence.js';
import { LeaseOwnership } from './nats/lease-ownership.js';
import { serveLastSeq } from './nats/last-seq-responder.js';
import { ObjectCheckpointStore } from './nats/checkpoint-store.js';
import { PartitionFeed } from './nats/partition-feed.js';
import { ensureStreams, readinessReport, streamSettings } from '@pulse/runtime';
import { SessionActor } from './session/actor.js';
import { GatewayPresence } from './session/end-barrier.js';
import { SoleOwnership, type Ownership } from './session/ownership.js';
import { PartitionCheckpoints } from './session/partition-checkpoints.js';
import { Partitions, partitionKey } from './session/partitions.js';
import { ActorRegistry } from './session/registry.js';
import { VersionClock } from './session/version-clock.js';
import { BatchWriter } from './storage/batch-writer.js';
import { ClickHouseStore } from './storage/clickhouse.js';
import { JoinedInserts } from './storage/joined-inserts.js';
import { RawBatcher } from './storage/raw-batcher.js';
import { ResultsBatcher } from './storage/results-batcher.js';

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
  readonly partitions: Partitions;
  readonly ownership: Ownership;
  private readonly js: JetStreamClient;
  /** Null with CHECKPOINT_INTERVAL_MS=0. */
  private readonly checkpointStore: ObjectCheckpointStore | null;
  private readonly discovery: SessionDiscovery;
  private readonly gateways: GatewayPresence;
  private presenceSub: Subscription | null = null;
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
        : new SoleOwnership());
    this.gateways = new GatewayPresence(config.GATEWAY_SILENCE_MS, config.GATEWAY_PRESENCE_SETTLE_MS);
    this.checkpointStore =
      config.CHECKPOINT_INTERVAL_MS > 0
        ? new ObjectCheckpointStore(
            this.js,
            this.names,
            { replicas: config.NATS_STREAM_REPLICAS, maxBytes: config.NATS_CHECKPOINTS_MAX_BYTES },
            log,
          )
        : null;
    const allowance = { ratePerSec: config.SCORE_ALLOWANCE_PER_SEC, burst: config.SCORE_ALLOWANCE_BURST };
    const actorDeps = {
      gateways: this.gateways,
      endBarrierMaxWaitMs: config.END_BARRIER_MAX_WAIT_MS,
      nc,
      names: this.names,
      metrics: this.metrics,
      log,
      versions,
      now,
      minuteMs: config.MINUTE_MS,
      allowance,
    };
    this.registry = new ActorRegistry(
      (sessionId, start, partition) => new SessionActor(sessionId, start, partition, actorDeps),
      this.metrics,
      log,
    );
    // Every partition's writes of one moment in one insert per table (JoinedInserts: the ends of many classes).
    const ratings = new JoinedInserts<RatingRow[]>((parts) => this.store.insertRatings(parts.flat()));
    const results = new JoinedInserts<[StandingRow[], MinuteRow[], SessionResultRow[]]>((parts) =>
      this.store.insertResults(
        parts.flatMap(([standings]) => standings),
        parts.flatMap(([, minutes]) => minutes),
        parts.flatMap(([, , sessions]) => sessions),
      ),
    );
    this.partitions = new Partitions({
      registry: this.registry,
      ownership: this.ownership,
      inputFor: (partition) => new PartitionFeed(this.js, this.names, partition, config.ACK_WAIT_MS, log),
      rawFor: (partition) =>
        new RawBatcher(new BatchWriter(log.child({ partition }), this.metrics), {
          maxRows: config.CH_BATCH_MAX_ROWS,
          flushMs: config.CH_FLUSH_MS,
          insert: (rows) => ratings.write(rows),
        }),
      resultsFor: (partition) =>
        new ResultsBatcher(new BatchWriter(log.child({ partition }), this.metrics), {
          flushMs: config.CH_FLUSH_MS,
          insert: (standings, minutes, sessions) => results.write([standings, minutes, sessions]),
        }),
      serveLastSeq: (partition, answer) => serveLastSeq(nc, this.names, partition, answer, log),
      checkpoints:
        this.checkpointStore === null
          ? undefined
          : new PartitionCheckpoints({
              store: this.checkpointStore,
              registry: this.registry,
              isFinal: (sessionId) => this.store.isFinal(sessionId),
              engineId: config.ENGINE_ID,
              minuteMs: config.MINUTE_MS,
              allowance,
              metrics: this.metrics,
              log,
              now,
            }),
      metrics: this.metrics,
      log,
    });
    this.discovery = new SessionDiscovery(this.js, this.names, this.partitions, this.store, log);
  }

  /** Applies the ClickHouse DDL, ensures the streams, then discovers sessions and starts the tickers. */
  async start(): Promise<void> {
    const { config, nc, log } = this.deps;
    await this.store.applySchema();
    await ensureStreams(await jetstreamManager(nc), this.names, streamSettings(config));
    this.presenceSub = followGatewayPresence(nc, this.names, this.gateways, this.deps.now ?? Date.now);
    await this.checkpointStore?.ensure();
    // Every session's state first, so that a partition replayed next knows which sessions need an actor.
    await this.discovery.start();
    await this.ownership.start(this.partitions);
    for (let p = 0; p < RATING_PARTITIONS; p++) this.ownership.want(partitionKey(p));
    // One engine-wide tick over the running actors and partitions: no timer per session.
    this.timers.push(
      setInterval(() => {
        this.gateways.prune(Date.now());
        this.partitions.tick(Date.now());
        this.each((a) => a.postTick());
      }, config.RANK_TICK_MS),
    );
    this.timers.push(setInterval(() => this.each((a) => a.postResultsFlush()), config.RESULTS_FLUSH_MS));
    if (config.CHECKPOINT_INTERVAL_MS > 0) {
      this.timers.push(
        setInterval(() => void this.partitions.checkpointAll(), config.CHECKPOINT_INTERVAL_MS),
      );
    }
    this.accepting = true;
    log.info({ engineId: config.ENGINE_ID, namespace: this.names.namespace }, 'live engine started');
  }

  /**
   * Graceful stop: not ready, leave the membership (peers recompute at once), each partition stops pulling,
   * its actors write standings and its rows are stored and acked; then every lease is deleted so peers take
   * over at once.
   */
  async stop(): Promise<void> {
    this.accepting = false;
    this.stopping = true;
    await this.ownership.leave();
    await this.discovery.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.presenceSub?.unsubscribe();
    await this.partitions.stopAll();
    await this.ownership.releaseAll();
  }

  async health(): Promise<EngineHealth> {
    const clickhouse = await this.store.ping().catch(() => false);
    const degraded: string[] = [];
    for (const partition of this.partitions.degraded) {
      degraded.push(`partition ${partition}: ClickHouse writes retrying`);
    }
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
