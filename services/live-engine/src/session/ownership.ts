/** Why an engine stops running a session it ran. */
export type ReleaseReason = 'handover' | 'lost';

/** What the ownership tells the engine (the registry) as sessions come and go. */
export interface OwnershipListener {
  /** This engine now owns the session: start its actor (it rebuilds from the stream). */
  acquired(sessionId: string): void;
  /**
   * This engine must stop running the session. `handover`: another engine is its owner now; stop gracefully
   * (flush the in-flight batch, ack) before the lease is given up. `lost`: the lease is gone (someone else may
   * hold it); stop at once without writing or acking. Resolves once the actor stopped.
   */
  released(sessionId: string, reason: ReleaseReason): Promise<void>;
}

/**
 * Which sessions this engine runs. The one question the rest of the engine asks, so that sharing sessions
 * across replicas (JetStream KV leases, see nats/lease-ownership.ts) replaces this object and nothing else.
 */
export interface Ownership {
  /** True while this engine may process the session (for leases: while its lease is valid). */
  owns(sessionId: string): boolean;
  /** The session needs an owner (it is live, or ended without final results). */
  want(sessionId: string): void;
  /** The session needs no owner any more (results frozen, or cancelled): its lease, if held, goes. */
  done(sessionId: string): void;
  /** False while this engine is not a member that may take sessions (readiness reports it). */
  readonly ready: boolean;
  /** Joins (membership) and starts telling `listener` about acquired and released sessions. */
  start(listener: OwnershipListener): Promise<void>;
  /** Graceful stop, step 1: leave the membership so that peers recompute at once; take nothing new. */
  leave(): Promise<void>;
  /** Graceful stop, step 2 (after the actors stopped): give up every lease so that peers take over at once. */
  releaseAll(): Promise<void>;
}

/** A single engine: it owns every session, needs no leases and is always a member. */
export const ownEverything: Ownership = Object.freeze({
  owns: () => true,
  want: () => undefined,
  done: () => undefined,
  ready: true,
  start: () => Promise.resolve(),
  leave: () => Promise.resolve(),
  releaseAll: () => Promise.resolve(),
});
