/**
 * Which sessions this engine runs. The one question the rest of the engine asks, so that sharing sessions
 * across replicas (issue 7: leases, partitions) replaces this object and nothing else.
 */
export interface Ownership {
  owns(sessionId: string): boolean;
}

/** A single engine: it owns every session. */
export const ownEverything: Ownership = Object.freeze({ owns: () => true });
