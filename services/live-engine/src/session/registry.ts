import type { SessionSnapshot } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { EngineMetrics } from '../metrics.js';
import type { SessionActor } from './actor.js';
import type { Ownership, OwnershipListener, ReleaseReason } from './ownership.js';

export type ActorFactory = (sessionId: string, startedAtMs: number) => SessionActor;
/** Whether a session's results are frozen already (then an ended session needs no owner). */
export type FinalCheck = (sessionId: string) => Promise<boolean>;

/**
 * Finds a session's actor by id; creates, ends and drops actors as lifecycle events arrive. It also keeps the
 * last snapshot of every session that needs an owner, so that an actor can start whenever the ownership hands
 * this engine a session (and stop when it takes it away).
 */
export class ActorRegistry implements OwnershipListener {
  private readonly actors = new Map<string, SessionActor>();
  private readonly known = new Map<string, SessionSnapshot>();

  constructor(
    private readonly create: ActorFactory,
    readonly ownership: Ownership,
    private readonly metrics: EngineMetrics,
    private readonly log: Logger,
    private readonly isFinal: FinalCheck = () => Promise.resolve(false),
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

  /** The running actor of a live session, started when missing and owned (else an owner is asked for). */
  ensure(session: SessionSnapshot): SessionActor | undefined {
    this.known.set(session.id, session);
    let actor = this.actors.get(session.id);
    if (actor !== undefined) return actor;
    if (!this.ownership.owns(session.id)) {
      this.ownership.want(session.id);
      return undefined;
    }
    const startedAtMs = Date.parse(session.startedAt ?? session.startsAt);
    actor = this.create(session.id, startedAtMs);
    this.actors.set(session.id, actor);
    this.metrics.liveActors.set(this.actors.size);
    this.log.info({ sessionId: session.id }, 'session actor started');
    void actor.done.then(() => this.forget(session.id, actor!));
    actor.start();
    return actor;
  }

  /** Ended: the actor (existing or started now to rebuild from the stream) freezes results, then goes. */
  end(session: SessionSnapshot): void {
    this.ensure(session)?.end();
  }

  async cancel(sessionId: string): Promise<void> {
    this.known.delete(sessionId);
    const actor = this.actors.get(sessionId);
    if (actor !== undefined) await actor.cancel();
    else this.ownership.done(sessionId);
  }

  /** Graceful shutdown of every actor. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.actors.values()].map((a) => a.stop()));
  }

  /** The ownership gave this engine the session: start its actor (an ended one only if not frozen yet). */
  acquired(sessionId: string): void {
    const session = this.known.get(sessionId);
    if (session === undefined) return this.ownership.done(sessionId);
    if (session.status !== 'ended') {
      this.ensure(session);
      return;
    }
    void this.isFinal(sessionId).then(
      (final) => {
        if (!final) return this.end(session);
        this.known.delete(sessionId);
        this.ownership.done(sessionId);
      },
      (err: unknown) => {
        this.log.warn({ err, sessionId }, 'cannot tell whether results are final; rebuilding');
        this.end(session);
      },
    );
  }

  /** The ownership took the session away: hand it over gracefully, or drop it at once when the lease is lost. */
  async released(sessionId: string, reason: ReleaseReason): Promise<void> {
    const actor = this.actors.get(sessionId);
    if (actor === undefined) return;
    this.log.info({ sessionId, reason }, 'session moves to another engine');
    await (reason === 'handover' ? actor.stop() : actor.abandon());
  }

  private forget(sessionId: string, actor: SessionActor): void {
    if (this.actors.get(sessionId) !== actor) return;
    this.actors.delete(sessionId);
    this.metrics.liveActors.set(this.actors.size);
    this.metrics.consumerPending.remove({ session: sessionId });
    this.log.info({ sessionId, state: actor.state }, 'session actor dropped');
    if (actor.state === 'ended') {
      // Frozen or cancelled: no engine needs to run it any more.
      this.known.delete(sessionId);
      this.ownership.done(sessionId);
    }
  }
}
