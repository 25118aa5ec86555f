import { nanos } from '@nats-io/transport-node';
import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { streamConfigs, type NatsNames } from '@pulse/contracts';

/** Creates or updates the namespace's streams from contracts (idempotent; every service does it on start). */
export async function ensureStreams(jsm: JetStreamManager, names: NatsNames, replicas = 1): Promise<void> {
  for (const { duplicate_window_ms, max_age_ms, ...rest } of streamConfigs(names, replicas)) {
    const config = {
      ...rest,
      subjects: [...rest.subjects],
      duplicate_window: nanos(duplicate_window_ms),
      max_age: nanos(max_age_ms),
    } as unknown as StreamConfig;
    const exists = await jsm.streams.info(config.name).then(
      () => true,
      () => false,
    );
    if (exists) await jsm.streams.update(config.name, config);
    else await jsm.streams.add(config);
  }
}
