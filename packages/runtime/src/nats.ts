import { connect, nanos, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { streamConfigs, type NatsNames } from '@pulse/contracts';
import { z } from 'zod';
import { sharedEnv, type SharedConfig } from './config.js';

/** Retry a restarted NATS quickly: ranks and publishes resume within about this after it is back. */
export const NATS_RECONNECT_WAIT_MS = 250;

/** Connection options every service uses: the configured server and credentials, reconnecting forever. */
export function natsOptions(config: SharedConfig, name: string): ConnectionOptions {
  return {
    servers: config.NATS_URL,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
    // Without this nats.js builds a RequestError and a TimeoutError (stack traces) for every request and
    // JetStream publish in case it fails: 3-4 % of a busy gateway's CPU (issue 12 profiles).
    noAsyncTraces: true,
    ...(config.NATS_USER ? { user: config.NATS_USER, pass: config.NATS_PASSWORD } : {}),
  };
}

export const connectNats = (config: SharedConfig, name: string): Promise<NatsConnection> =>
  connect(natsOptions(config, name));

type ContractStream = ReturnType<typeof streamConfigs>[number];

/** Age and byte limit of one stream; past the byte limit the oldest messages go first. */
export interface StreamLimits {
  maxAgeMs: number;
  maxBytes: number;
}

/** What a deployment decides about its streams: replicas and each stream's limits. */
export interface StreamSettings {
  replicas: number;
  ratings: StreamLimits;
  events: StreamLimits;
  /** Byte limit of the follows KV bucket (its values never age out). */
  followsMaxBytes: number;
}

/** The stream settings a service's configuration asks for. */
export const streamSettings = (config: SharedConfig): StreamSettings => ({
  replicas: config.NATS_STREAM_REPLICAS,
  ratings: { maxAgeMs: config.NATS_RATINGS_MAX_AGE_SEC * 1000, maxBytes: config.NATS_RATINGS_MAX_BYTES },
  events: { maxAgeMs: config.NATS_EVENTS_MAX_AGE_SEC * 1000, maxBytes: config.NATS_EVENTS_MAX_BYTES },
  followsMaxBytes: config.NATS_FOLLOWS_KV_MAX_BYTES,
});

/** The stream settings of a default (local) deployment: what every service uses with an empty environment. */
export const DEFAULT_STREAM_SETTINGS: StreamSettings = Object.freeze(
  streamSettings(z.object(sharedEnv).parse({})),
);

/** The contract's plain stream settings, with a deployment's limits, as JetStream takes them (nanoseconds). */
export function toStreamConfig(
  c: ContractStream,
  limits?: StreamLimits,
): Partial<StreamConfig> & { name: string } {
  const config: Partial<StreamConfig> & { name: string } = {
    name: c.name,
    subjects: [...c.subjects],
    storage: c.storage === 'file' ? StorageType.File : StorageType.Memory,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(c.duplicate_window_ms),
    max_age: nanos(limits?.maxAgeMs ?? c.max_age_ms),
    num_replicas: c.num_replicas,
  };
  if (limits) {
    config.max_bytes = limits.maxBytes;
    config.discard = DiscardPolicy.Old;
  }
  if ('max_msgs_per_subject' in c) config.max_msgs_per_subject = c.max_msgs_per_subject;
  return config;
}

/**
 * Creates the namespace's streams from contracts, or updates them to the contract's settings (with the
 * configured replicas and limits). Every service runs it on start, so this is the only copy: three diverging copies
 * once put production streams back to one replica. Safe when several replicas race to create a stream.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  names: NatsNames,
  settings: StreamSettings,
): Promise<void> {
  for (const c of streamConfigs(names, settings.replicas)) {
    const config = toStreamConfig(c, c.name === names.ratingsStream ? settings.ratings : settings.events);
    try {
      await jsm.streams.info(c.name);
      await jsm.streams.update(c.name, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(config);
      } catch (addErr) {
        // Another replica created it between our info and add: bring it to our settings.
        if (!isAlreadyInUse(addErr)) throw addErr;
        await jsm.streams.update(c.name, config);
      }
    }
  }
}

/**
 * The follows KV bucket (issue 16), created or brought to the configured replicas and byte limit: the API
 * writes it (through its outbox), gateways read and watch it. One value per follower, history 1.
 */
export async function ensureFollowsBucket(
  jsm: JetStreamManager,
  names: NatsNames,
  settings: StreamSettings,
): Promise<KV> {
  const kv = await new Kvm(jsm.jetstream()).create(names.followsBucket, {
    history: 1,
    replicas: settings.replicas,
    max_bytes: settings.followsMaxBytes,
  });
  const { config } = await jsm.streams.info(`KV_${names.followsBucket}`);
  await applyStreamSettings(jsm, config, {
    num_replicas: settings.replicas,
    max_bytes: settings.followsMaxBytes,
  });
  return kv;
}

/**
 * Opening an existing KV or object-store bucket keeps the settings it was created with: this brings its stream
 * (`current`, as read from JetStream) to the configured ones, so they can change on a running cluster (issue 14).
 * Returns the settings that differed (empty when nothing was updated).
 */
export async function applyStreamSettings(
  jsm: JetStreamManager,
  current: StreamConfig,
  wanted: Partial<StreamConfig>,
): Promise<Partial<StreamConfig>> {
  const differing = Object.fromEntries(
    Object.entries(wanted).filter(([key, value]) => current[key as keyof StreamConfig] !== value),
  ) as Partial<StreamConfig>;
  if (Object.keys(differing).length > 0) await jsm.streams.update(current.name, wanted);
  return differing;
}

/** A stream or consumer JetStream does not know. */
export function isNotFound(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound)
  );
}

const isAlreadyInUse = (err: unknown): boolean => /already in use/i.test(String((err as Error)?.message));
