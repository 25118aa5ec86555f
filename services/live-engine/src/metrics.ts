import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The engine's Prometheus metrics, on their own registry (tests build several engines in one process). */
export class EngineMetrics {
  readonly registry = new Registry();
  readonly liveActors = new Gauge({
    name: 'pulse_engine_live_actors',
    help: 'Session actors running',
    registers: [this.registry],
  });
  readonly ratingsProcessed = new Counter({
    name: 'pulse_engine_ratings_processed_total',
    help: 'Rating messages handled by actors, by outcome (counted, duplicate, replayed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly ratingAgeSeconds = new Histogram({
    name: 'pulse_engine_rating_age_seconds',
    help: 'From a live rating received by its gateway to its actor counting it (batch window, JetStream, delivery)',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly rankSeconds = new Histogram({
    name: 'pulse_engine_rank_compute_seconds',
    help: 'Time to build one session rank snapshot (one in-order walk)',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly endBarrierSeconds = new Histogram({
    name: 'pulse_engine_end_barrier_seconds',
    help: "From a session's end seen by its actor to every holding gateway's end barrier consumed (or the wait's end)",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly endBarrierTimeouts = new Counter({
    name: 'pulse_engine_end_barrier_timeouts_total',
    help: 'Sessions frozen at END_BARRIER_MAX_WAIT_MS without the end barrier of a gateway still holding clients',
    registers: [this.registry],
  });
  readonly batchRows = new Histogram({
    name: 'pulse_engine_clickhouse_batch_rows',
    help: 'Rows per ClickHouse ratings insert',
    buckets: [1, 10, 100, 1000, 5000, 10000, 50000],
    registers: [this.registry],
  });
  readonly insertSeconds = new Histogram({
    name: 'pulse_engine_clickhouse_insert_seconds',
    help: 'Latency of one successful ClickHouse insert job',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly insertFailures = new Counter({
    name: 'pulse_engine_clickhouse_insert_failures_total',
    help: 'Failed ClickHouse insert attempts (each is retried)',
    registers: [this.registry],
  });
  readonly consumerPending = new Gauge({
    name: 'pulse_engine_consumer_pending',
    help: 'Messages not yet delivered from each partition consumer (JetStream num_pending)',
    labelNames: ['partition'],
    registers: [this.registry],
  });
  readonly snapshotsPublished = new Counter({
    name: 'pulse_engine_rank_snapshots_total',
    help: 'Rank snapshot messages published on core NATS',
    registers: [this.registry],
  });

  readonly ownedPartitions = new Gauge({
    name: 'pulse_engine_owned_partitions',
    help: 'Partition leases this engine holds (ratings partitions it runs)',
    registers: [this.registry],
  });
  readonly leaseMoves = new Counter({
    name: 'pulse_engine_lease_moves_total',
    help: 'Partition ownership changes seen by this engine (acquired, handed_over, lost)',
    labelNames: ['change'],
    registers: [this.registry],
  });
  readonly engineMembers = new Gauge({
    name: 'pulse_engine_members',
    help: 'Live engine replicas this engine sees in the membership',
    registers: [this.registry],
  });

  readonly checkpointSeconds = new Histogram({
    name: 'pulse_engine_checkpoint_seconds',
    help: 'One partition checkpoint by stage: capture (actors, in their mailboxes), rows (raw rows stored), encode (JSON + gzip), write (object store)',
    labelNames: ['stage'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly checkpointBytes = new Histogram({
    name: 'pulse_engine_checkpoint_bytes',
    help: 'Size of one stored partition checkpoint (gzipped)',
    buckets: [1_000, 10_000, 100_000, 500_000, 1_000_000, 5_000_000, 20_000_000],
    registers: [this.registry],
  });
  readonly checkpointFailures = new Counter({
    name: 'pulse_engine_checkpoint_failures_total',
    help: 'Partition checkpoints that could not be written (the previous one stays)',
    registers: [this.registry],
  });
  readonly checkpointFallbacks = new Counter({
    name: 'pulse_engine_checkpoint_fallbacks_total',
    help: 'Takeovers that replayed the whole partition because its checkpoint was missing, corrupt, incompatible or unreadable',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly checkpointAgeSeconds = new Histogram({
    name: 'pulse_engine_checkpoint_age_seconds',
    help: 'Age of the checkpoint a takeover restored',
    buckets: [1, 5, 15, 30, 60, 120, 300, 900],
    registers: [this.registry],
  });
  readonly takeoverReplayed = new Histogram({
    name: 'pulse_engine_takeover_replayed_messages',
    help: 'Messages a takeover replayed to rebuild a partition (after its checkpoint, or from the stream start)',
    labelNames: ['from'],
    buckets: [0, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000],
    registers: [this.registry],
  });

  constructor() {
    this.registry.setDefaultLabels({ service: 'live-engine' });
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }
}
