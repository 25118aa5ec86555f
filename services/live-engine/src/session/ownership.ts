/** Why an engine stops running a partition it ran. */
export type ReleaseReason = 'handover' | 'lost';

/** What the ownership tells the engine (its Partitions) as partitions come and go. */
export interface OwnershipListener {
  /** This engine now owns the key (a partition): start consuming it (it rebuilds from the stream). */
  acquired(key: string): void;
  /**
   * This engine must stop running the key. `handover`: another engine is its owner now; stop gracefully
   * (store and ack what is in hand, write standings) before the lease is given up. `lost`: the lease is gone
   * (someone else may hold it); stop at once without writing or acking. Resolves once stopped.
   */
  released(key: string, reason: ReleaseReason): Promise<void>;
}

/**
 * Which partitions of the ratings this engine runs (keys from session/partitions.ts `partitionKey`). The one
 * question the rest of the engine asks, so that sharing partitions across replicas (JetStream KV leases, see
 * nats/lease-ownership.ts) replaces this object and nothing else. Sessions follow their partition.
 */
export interface Ownership {
  /** True while this engine may process the key (for leases: while its lease is valid). */
  owns(key: string): boolean;
  /** The key needs an owner (every partition does, for the life of the engine). */
  want(key: string): void;
  /** The key needs no owner any more: its lease, if held, goes. */
  done(key: string): void;
  /** False while this engine is not a member that may take partitions (readiness reports it). */
  readonly ready: boolean;
  /** Joins (membership) and starts telling `listener` about acquired and released keys. */
  start(listener: OwnershipListener): Promise<void>;
  /** Graceful stop, step 1: leave the membership so that peers recompute at once; take nothing new. */
  leave(): Promise<void>;
  /** Graceful stop, step 2 (after the partitions stopped): give up every lease so that peers take over at once. */
  releaseAll(): Promise<void>;
}

/** A single engine (ENGINE_OWNERSHIP=all): it owns every key it wants at once, with no leases. */
export class SoleOwnership implements Ownership {
  readonly ready = true;
  private listener: OwnershipListener | null = null;
  private readonly wanted = new Set<string>();

  owns(key: string): boolean {
    return this.wanted.has(key);
  }

  want(key: string): void {
    if (this.wanted.has(key)) return;
    this.wanted.add(key);
    this.listener?.acquired(key);
  }

  done(key: string): void {
    this.wanted.delete(key);
  }

  start(listener: OwnershipListener): Promise<void> {
    this.listener = listener;
    for (const key of this.wanted) listener.acquired(key);
    return Promise.resolve();
  }

  leave(): Promise<void> {
    return Promise.resolve();
  }

  releaseAll(): Promise<void> {
    this.wanted.clear();
    return Promise.resolve();
  }
}
