import { partitionOf, type SessionSnapshot } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { EngineMetrics } from '../metrics.js';
import type { ActorStart, PartitionLink, SessionActor } from './actor.js';

export type ActorFactory = (sessionId: string, start: ActorStart, partition: PartitionLink) => SessionActor;

/** A partition as the registry sees it: the link its actors get, and whether its replay is done. */
export interface PartitionHandle {
  readonly link: PartitionLink;
  readonly following: boolean;
}

/**
 * Finds a session's actor by id. Actors are created lazily — on the first message of a session, or when a
 * live or unfinished ended session's partition is (or becomes) this engine's — and dropped once their results
 * are frozen, they are cancelled or their partition moves. Keeps the last snapshot of every session that may
 * still need an actor (scheduled, live, ended without final results), and the ids of closed sessions (frozen
 * or cancelled), whose late messages are acked and dropped.
 */
export class ActorRegistry {
  private readonly actors = new Map<string, SessionActor>();
  private readonly sessions = new Map<string, SessionSnapshot>();
  private readonly closed = new Set<string>();

  constructor(
    private readonly create: ActorFactory,
    private readonly metrics: EngineMetrics,
    private readonly log: Logger,
  ) {}

  get(sessionId: string): SessionActor | undefined {
    return this.actors.get(sessionId);
  }

  get size(): number {
    return this.actors.size;
  }

  all(): IterableIterator<SessionActor> {
    return this.actors.values();
  }

  /** The actors of one partition. */
  inPartition(partition: number): SessionActor[] {
    return [...this.actors.values()].filter((a) => partitionOf(a.sessionId) === partition);
  }

  /**
   * A lifecycle change. `partition`: the session's partition when this engine runs it (an actor is created
   * for a live or ended session), else undefined (only the snapshot is kept, for when it moves here).
   */
  update(session: SessionSnapshot, partition: PartitionHandle | undefined): void {
    if (this.closed.has(session.id)) return;
    if (session.status === 'cancelled') return this.close(session.id);
    this.sessions.set(session.id, session);
    const actor = this.actors.get(session.id);
    if (actor !== undefined) return this.tell(actor, session);
    if (session.status !== 'scheduled' && partition !== undefined) this.actorFor(session.id, partition);
  }

  /** Cancelled, or ended with final results already stored: no actor needed, late messages dropped. */
  close(sessionId: string): void {
    this.sessions.delete(sessionId);
    this.closed.add(sessionId);
    void this.actors.get(sessionId)?.cancel();
  }

  /** The actor a message of the session goes to (created now if needed); undefined for a closed session. */
  actorFor(sessionId: string, partition: PartitionHandle): SessionActor | undefined {
    let actor = this.actors.get(sessionId);
    if (actor !== undefined || this.closed.has(sessionId)) return actor;
    const session = this.sessions.get(sessionId);
    const known = session !== undefined && session.status !== 'scheduled';
    const start = {
      startedAtMs: known ? Date.parse(session.startedAt ?? session.startsAt) : null,
      following: partition.following,
    };
    actor = this.create(sessionId, start, partition.link);
    this.actors.set(sessionId, actor);
    this.metrics.liveActors.set(this.actors.size);
    this.log.debug({ sessionId, state: actor.state }, 'session actor created');
    void actor.done.then(() => this.forget(sessionId, actor!));
    if (session?.status === 'ended') actor.end();
    return actor;
  }

  /** This engine now runs the partition: actors for its live and unfinished ended sessions. */
  adopt(partition: number, handle: PartitionHandle): void {
    for (const [sessionId, session] of this.sessions) {
      if (session.status !== 'scheduled' && partitionOf(sessionId) === partition) {
        this.actorFor(sessionId, handle);
      }
    }
  }

  private tell(actor: SessionActor, session: SessionSnapshot): void {
    if (session.status === 'live' || session.status === 'ended') {
      actor.goLive(Date.parse(session.startedAt ?? session.startsAt));
    }
    if (session.status === 'ended') actor.end();
  }

  private forget(sessionId: string, actor: SessionActor): void {
    if (this.actors.get(sessionId) !== actor) return;
    this.actors.delete(sessionId);
    this.metrics.liveActors.set(this.actors.size);
    this.log.debug({ sessionId, state: actor.state }, 'session actor dropped');
    if (actor.state === 'ended') {
      this.sessions.delete(sessionId);
      this.closed.add(sessionId);
    }
  }
}
