import { partitionOf, type LastSeqReply, type SessionSnapshot } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { EngineMetrics } from '../metrics.js';
import type { ActorStart, PartitionLink, SessionActor } from './actor.js';
import type { ActorCheckpoint } from './checkpoint.js';

/**
 * How many users' final lastSeqs the registry remembers over the sessions it froze (the newest sessions kept):
 * a device that reconnects after the end is told its last counted seq (about 100 bytes each).
 */
export const FROZEN_LAST_SEQ_USERS = 100_000;

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
  /** Frozen sessions' final lastSeq per user, oldest session first (bounded by FROZEN_LAST_SEQ_USERS). */
  private readonly frozenLastSeqs = new Map<string, Map<string, number>>();
  private frozenUsers = 0;

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

  /**
   * A user's last counted seq: from the session's actor, or, once its results are frozen here, the final one
   * (`final`), while remembered. 0 for a session this engine does not know.
   */
  async lastSeqOf(sessionId: string, userId: string): Promise<LastSeqReply> {
    const actor = this.actors.get(sessionId);
    if (actor !== undefined) {
      const lastSeq = await actor.lastSeqOf(userId);
      return actor.frozen ? { lastSeq, final: true } : { lastSeq };
    }
    const frozen = this.frozenLastSeqs.get(sessionId);
    if (frozen !== undefined) return { lastSeq: frozen.get(userId) ?? 0, final: true };
    return { lastSeq: 0 };
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

  /**
   * An actor as a partition checkpoint left it (before the partition's tail is replayed into it), then told
   * what the session events say since. A closed session stays closed; an actor created meanwhile by a lifecycle
   * event (it has counted nothing: the partition routes nothing before its restore) is replaced.
   */
  restore(checkpoint: ActorCheckpoint, partition: PartitionHandle): SessionActor | undefined {
    const sessionId = checkpoint.sessionId;
    if (this.closed.has(sessionId)) return undefined;
    const fresh = this.actors.get(sessionId);
    this.actors.delete(sessionId);
    void fresh?.abandon();
    const start = {
      startedAtMs: checkpoint.startedAtMs,
      following: partition.following,
      restored: checkpoint,
    };
    const actor = this.create(sessionId, start, partition.link);
    this.actors.set(sessionId, actor);
    this.metrics.liveActors.set(this.actors.size);
    void actor.done.then(() => this.forget(sessionId, actor));
    const session = this.sessions.get(sessionId);
    if (session !== undefined) this.tell(actor, session);
    return actor;
  }

  /** Ended sessions of the partition that have no actor here (their results may be final already). */
  endedWithoutActor(partition: number): string[] {
    return [...this.sessions.values()]
      .filter((s) => s.status === 'ended' && partitionOf(s.id) === partition && !this.actors.has(s.id))
      .map((s) => s.id);
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
    if (actor.frozen) this.rememberFrozen(sessionId, actor.standings.lastSeqs());
  }

  private rememberFrozen(sessionId: string, lastSeqs: Map<string, number>): void {
    this.frozenLastSeqs.set(sessionId, lastSeqs);
    this.frozenUsers += lastSeqs.size;
    for (const [oldest, seqs] of this.frozenLastSeqs) {
      if (this.frozenUsers <= FROZEN_LAST_SEQ_USERS || oldest === sessionId) break;
      this.frozenLastSeqs.delete(oldest);
      this.frozenUsers -= seqs.size;
    }
  }
}
