import type { SessionSnapshot } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { EngineMetrics } from '../metrics.js';
import type { SessionActor } from './actor.js';
import type { Ownership } from './ownership.js';

export type ActorFactory = (sessionId: string, startedAtMs: number) => SessionActor;

/** Finds a session's actor by id; creates, ends and drops actors as lifecycle events arrive. */
export class ActorRegistry {
  private readonly actors = new Map<string, SessionActor>();

  constructor(
    private readonly create: ActorFactory,
    readonly ownership: Ownership,
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

  /** The running actor of a live session, started when missing (and owned). */
  ensure(session: SessionSnapshot): SessionActor | undefined {
    let actor = this.actors.get(session.id);
    if (actor !== undefined || !this.ownership.owns(session.id)) return actor;
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
    const actor = this.actors.get(sessionId);
    if (actor !== undefined) await actor.cancel();
  }

  /** Graceful shutdown of every actor. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.actors.values()].map((a) => a.stop()));
  }

  private forget(sessionId: string, actor: SessionActor): void {
    if (this.actors.get(sessionId) !== actor) return;
    this.actors.delete(sessionId);
    this.metrics.liveActors.set(this.actors.size);
    this.metrics.consumerPending.remove({ session: sessionId });
    this.log.info({ sessionId, state: actor.state }, 'session actor dropped');
  }
}
