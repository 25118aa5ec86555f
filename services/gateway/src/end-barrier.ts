import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import {
  CloseCode,
  endBarrierMsgId,
  partitionOf,
  resultsPath,
  type EndBarrierMessage,
  type NatsNames,
} from '@pulse/contracts';
import type { GatewayMetrics } from './metrics.js';

/** What the end of a session needs of one of its local clients. */
export interface EndingClient {
  /**
   * Lets the ratings the client sent before the end be stored; those still queued after `deadlineMs` are
   * refused (NOT_LIVE). Resolves with the client's highest stored seq once none is in flight.
   */
  settleRatings(deadlineMs: number): Promise<number>;
  closeWith(frame: string, code: CloseCode): void;
}

export interface EndBarrierOptions {
  /** How long the ratings a client sent before the end have to be stored before the rest are refused. */
  readonly drainMs: number;
  /** JetStream ack wait of one barrier publish. */
  readonly publishTimeoutMs: number;
  /** Publishes of the barrier before giving up (the engine then waits for this gateway to fall silent). */
  readonly attempts: number;
}

/** The `ended` frame; `lastSeq` when this gateway drained the client's ratings at the end. */
export function endedFrame(sessionId: string, lastSeq?: number): string {
  return lastSeq === undefined
    ? JSON.stringify({ type: 'ended', resultsPath: resultsPath(sessionId) })
    : JSON.stringify({ type: 'ended', resultsPath: resultsPath(sessionId), lastSeq });
}

/**
 * The end of a session is a barrier (issue 14): a rating belongs to the session when this gateway received
 * it before it learned of the end. On the `ended` event the session already refuses new ratings (NOT_LIVE);
 * then every local client's ratings are stored (or refused, past `drainMs`), this gateway's barrier goes into
 * the session's partition behind all of them, and only then does each client get `ended` with its last stored
 * seq and close 4410. The engine freezes results once it has consumed the barrier of every gateway that held
 * clients of the session, so every seq up to `ended.lastSeq` is counted; the device was told of every other.
 */
export class EndBarriers {
  constructor(
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly gatewayId: string,
    private readonly options: EndBarrierOptions,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** The session ended: drains `clients`, publishes the barrier, tells each client where its ratings stop. */
  async close(sessionId: string, clients: readonly EndingClient[]): Promise<void> {
    const startedAt = performance.now();
    const lastSeqs = await Promise.all(
      clients.map((c) => c.settleRatings(this.options.drainMs).catch(() => undefined)),
    );
    const published = await this.publish(sessionId);
    clients.forEach((client, i) =>
      client.closeWith(endedFrame(sessionId, lastSeqs[i]), CloseCode.SESSION_CLOSED),
    );
    const seconds = (performance.now() - startedAt) / 1000;
    this.metrics.endDrainSeconds.observe(seconds);
    this.log.info(
      { sessionId, clients: clients.length, published, seconds },
      'session ended: barrier passed',
    );
  }

  private async publish(sessionId: string): Promise<boolean> {
    const barrier: EndBarrierMessage = {
      kind: 'barrier',
      sessionId,
      gatewayId: this.gatewayId,
      ts: Date.now(),
    };
    const subject = this.names.ratingBarrier(partitionOf(sessionId), this.gatewayId);
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      try {
        await this.js.publish(subject, JSON.stringify(barrier), {
          msgID: endBarrierMsgId(sessionId, this.gatewayId),
          timeout: this.options.publishTimeoutMs,
        });
        return true;
      } catch (err) {
        this.log.warn({ err, sessionId, attempt }, 'end barrier not stored');
      }
    }
    this.metrics.endBarriersFailed.inc();
    return false;
  }
}
