import type { JetStreamClient } from '@nats-io/jetstream';
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj';
import type { NatsNames } from '@pulse/contracts';
import { applyStreamSettings } from '@pulse/runtime';
import type { Logger } from 'pino';

/** Default byte limit of the checkpoints object store (NATS_CHECKPOINTS_MAX_BYTES). */
export const DEFAULT_CHECKPOINTS_MAX_BYTES = 256 * 1024 * 1024;

/** Where partition checkpoints live (a test can hand in another). */
export interface CheckpointStore {
  /** The stored bytes of the partition's latest checkpoint, or null if there is none. */
  load(partition: number): Promise<Uint8Array | null>;
  /** Replaces the partition's checkpoint. */
  save(partition: number, bytes: Uint8Array): Promise<void>;
}

export interface CheckpointBucketOptions {
  /** NATS_STREAM_REPLICAS: 3 in production, so a NATS node restart keeps the checkpoints. */
  readonly replicas: number;
  readonly maxBytes: number;
}

/** The object holding one partition's checkpoint. */
export const checkpointObject = (partition: number): string => `p${partition}`;

/**
 * Partition checkpoints in a JetStream object store (`natsNames(ns).checkpointsBucket`, stream OBJ_<bucket>): one
 * object per partition, chunked by the store (JetStream messages are limited to 1 MB), replaced on each write
 * (the store purges the previous object's chunks). File storage, `discard: new`: at the byte limit a write
 * fails and the previous checkpoint stays, rather than JetStream dropping the oldest chunks of a live one.
 */
export class ObjectCheckpointStore implements CheckpointStore {
  private bucket: Promise<ObjectStore> | null = null;

  constructor(
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly options: CheckpointBucketOptions,
    private readonly log: Logger,
  ) {}

  /** Creates the bucket, or applies changed replicas and byte limit to the one that exists (at engine start). */
  ensure(): Promise<ObjectStore> {
    this.bucket ??= this.open().catch((err: unknown) => {
      this.bucket = null;
      throw err;
    });
    return this.bucket;
  }

  async load(partition: number): Promise<Uint8Array | null> {
    return (await this.ensure()).getBlob(checkpointObject(partition));
  }

  async save(partition: number, bytes: Uint8Array): Promise<void> {
    await (await this.ensure()).putBlob({ name: checkpointObject(partition) }, bytes);
  }

  private async open(): Promise<ObjectStore> {
    const { replicas, maxBytes } = this.options;
    const store = await new Objm(this.js).create(this.names.checkpointsBucket, {
      storage: StorageType.File,
      replicas,
      max_bytes: maxBytes,
    });
    // Opening an existing bucket keeps the settings it was created with: apply the configured ones, so they
    // can change on a running cluster like the engines bucket's.
    const config = (await store.status()).streamInfo.config;
    const differing = await applyStreamSettings(await this.js.jetstreamManager(), config, {
      num_replicas: replicas,
      max_bytes: maxBytes,
    });
    if (Object.keys(differing).length > 0) {
      this.log.info(
        { replicas, maxBytes, was: { replicas: config.num_replicas, maxBytes: config.max_bytes } },
        'checkpoints bucket settings applied',
      );
    }
    return store;
  }
}
