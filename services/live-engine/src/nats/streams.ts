import { nanos } from '@nats-io/transport-node';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { streamConfigs, type NatsNames } from '@pulse/contracts';

/** Creates the ratings and session-events streams from contracts, or updates them when they exist. */
export async function ensureStreams(jsm: JetStreamManager, names: NatsNames, replicas = 1): Promise<void> {
  for (const c of streamConfigs(names, replicas)) {
    const config: Partial<StreamConfig> & { name: string } = {
      name: c.name,
      subjects: [...c.subjects],
      storage: c.storage === 'file' ? StorageType.File : StorageType.Memory,
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(c.duplicate_window_ms),
      max_age: nanos(c.max_age_ms),
      num_replicas: c.num_replicas,
    };
    if ('max_msgs_per_subject' in c) config.max_msgs_per_subject = c.max_msgs_per_subject;
    try {
      await jsm.streams.info(c.name);
      await jsm.streams.update(c.name, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.streams.add(config);
    }
  }
}

export function isNotFound(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound)
  );
}
