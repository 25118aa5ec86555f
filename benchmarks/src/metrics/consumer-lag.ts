import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { natsNames, partitionOf } from '@pulse/contracts';

/** JetStream consumer lag of the engine's partition consumers that carry the given sessions (pending + unacked). */
export class ConsumerLagProbe {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly namespace: string,
  ) {}

  static async open(natsUrl: string, namespace: string): Promise<ConsumerLagProbe> {
    const nc = await connect({ servers: natsUrl });
    return new ConsumerLagProbe(nc, await jetstreamManager(nc), namespace);
  }

  /** Sum over the sessions' partitions of messages not yet delivered plus delivered but not acknowledged. */
  async lag(sessionIds: readonly string[]): Promise<{ pending: number; ackPending: number }> {
    const names = natsNames(this.namespace);
    let pending = 0;
    let ackPending = 0;
    for (const partition of new Set(sessionIds.map(partitionOf))) {
      try {
        const info = await this.jsm.consumers.info(names.ratingsStream, names.partitionConsumer(partition));
        pending += info.num_pending;
        ackPending += info.num_ack_pending;
      } catch {
        // the consumer does not exist (yet, or any more)
      }
    }
    return { pending, ackPending };
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
