import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per gateway instance (tests run several in one process). */
export function createMetrics() {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'gateway' });
  // Default process metrics include nodejs_eventloop_lag_seconds and its percentiles.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  return {
    registry,
    connections: new Gauge({
      name: 'pulse_gateway_open_connections',
      help: 'Open WebSocket connections',
      registers: [registry],
    }),
    ratingsReceived: new Counter({
      name: 'pulse_gateway_ratings_received_total',
      help: 'Rating frames received',
      registers: [registry],
    }),
    ratingsPublished: new Counter({
      name: 'pulse_gateway_ratings_published_total',
      help: 'Ratings acknowledged by JetStream',
      registers: [registry],
    }),
    ratingsDuplicate: new Counter({
      name: 'pulse_gateway_ratings_duplicate_total',
      help: 'Ratings ignored because their seq was already stored',
      registers: [registry],
    }),
    framesRejected: new Counter({
      name: 'pulse_gateway_frames_rejected_total',
      help: 'Client frames answered with an error frame, by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    batchesPublished: new Counter({
      name: 'pulse_gateway_rating_batches_published_total',
      help: 'Rating batch messages acknowledged by JetStream (one per partition and window)',
      registers: [registry],
    }),
    publishLatency: new Histogram({
      name: 'pulse_gateway_publish_latency_seconds',
      help: 'Time from the first rating of a batch (or a queued publish) to its JetStream ack',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    snapshotAge: new Histogram({
      name: 'pulse_gateway_rank_snapshot_age_seconds',
      help: 'From the engine taking a rank snapshot to this gateway reading it (NATS delivery and event-loop wait)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    ratingToRank: new Histogram({
      name: 'pulse_gateway_rating_to_rank_seconds',
      help: 'From a rating received by the gateway to the first rank frame written to its client that counts it',
      buckets: [0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    rankFramesSent: new Counter({
      name: 'pulse_gateway_rank_frames_sent_total',
      help: 'Rank frames written to sockets',
      registers: [registry],
    }),
    rankFrameInterval: new Histogram({
      name: 'pulse_gateway_rank_frame_interval_seconds',
      help: 'Time between two rank frames written to the same client (the promise: at most 1 s while live)',
      buckets: [0.25, 0.5, 0.75, 0.9, 1, 1.25, 1.5, 2, 5],
      registers: [registry],
    }),
    rankFramesDropped: new Counter({
      name: 'pulse_gateway_rank_frames_dropped_total',
      help: 'Rank frames replaced by a newer one before they could be sent (coalesced)',
      registers: [registry],
    }),
    slowConsumersClosed: new Counter({
      name: 'pulse_gateway_slow_consumers_closed_total',
      help: 'Sockets closed with 4429 because the client stopped reading',
      registers: [registry],
    }),
    localSessions: new Gauge({
      name: 'pulse_gateway_local_sessions',
      help: 'Sessions with at least one client on this gateway',
      registers: [registry],
    }),
    requestsRefused: new Counter({
      name: 'pulse_gateway_requests_refused_total',
      help: 'HTTP requests and upgrades refused at the door, by reason (bad_target, not_found, draining, too_many_sockets, bad_request, bad_handshake)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    connectionsReplaced: new Counter({
      name: 'pulse_gateway_connections_replaced_total',
      help: 'Sockets closed with 4409 because a newer connection of the same trainee took over',
      registers: [registry],
    }),
    endDrainSeconds: new Histogram({
      name: 'pulse_gateway_end_drain_seconds',
      help: "From a session's end event to its end barrier published and its clients told their last stored seq",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
      registers: [registry],
    }),
    endBarriersFailed: new Counter({
      name: 'pulse_gateway_end_barriers_failed_total',
      help: 'End barriers JetStream did not take after every attempt (the engine then waits for this gateway to fall silent)',
      registers: [registry],
    }),
    uncaughtErrors: new Counter({
      name: 'pulse_gateway_uncaught_errors_total',
      help: 'Errors that escaped every handler and were caught by the last-resort handler',
      registers: [registry],
    }),
  };
}
export type GatewayMetrics = ReturnType<typeof createMetrics>;
