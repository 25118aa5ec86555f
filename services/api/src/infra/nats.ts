import { jetstreamManager } from '@nats-io/jetstream';
import type { StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streamConfigs } from '@pulse/contracts';
import type { NatsNames } from '@pulse/contracts';

const NANOS_PER_MS = 1_000_000;

/** Turns the contract's plain stream settings into JetStream's (durations in nanoseconds). */
export function toStreamConfig(
  cfg: ReturnType<typeof streamConfigs>[number],
): Partial<StreamConfig> & { name: string } {
  const { duplicate_window_ms, max_age_ms, ...rest } = cfg;
  return {
    ...(rest as unknown as Partial<StreamConfig>),
    name: cfg.name,
    subjects: [...cfg.subjects],
    duplicate_window: duplicate_window_ms * NANOS_PER_MS,
    max_age: max_age_ms * NANOS_PER_MS,
  };
}

/** Creates the streams, or updates them to the contract's settings; safe to run on every start. */
export async function ensureStreams(nc: NatsConnection, names: NatsNames, replicas = 1): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const cfg of streamConfigs(names, replicas)) {
    const config = toStreamConfig(cfg);
    try {
      await jsm.streams.info(cfg.name);
      await jsm.streams.update(cfg.name, config);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      try {
        await jsm.streams.add(config);
      } catch (addErr) {
        // Another replica created it between our info and add.
        if (!/already in use/i.test(String((addErr as Error).message))) throw addErr;
      }
    }
  }
}

const isStreamNotFound = (err: unknown): boolean =>
  (err as { name?: string }).name === 'StreamNotFoundError' ||
  /stream not found/i.test(String((err as Error).message));
