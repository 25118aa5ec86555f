import { randomUUID } from 'node:crypto';
import { LockMode, OptimisticLockError } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { SessionStatus } from '@pulse/contracts';
import { ConcurrentUpdate, Forbidden, NotFound, ValidationFailed } from '../errors.js';
import { recordRegistrationEvent, recordSessionEvent } from '../outbox/outbox.js';
import type { OutboxSignal } from '../outbox/outbox.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import { INSTANT_RANGE_MESSAGE, isStorableInstant } from '../timestamps.js';
import type { Page } from '../pagination.js';
import { Registration, RegistrationStatus } from '../registrations/registration.entity.js';
import type { RegistrationView } from '../registrations/registration-view.js';
import { WorkoutSession } from './session.entity.js';
import { listSessions, sessionDetail } from './session-reads.js';
import { SessionListCache } from './session-list-cache.js';
import { sessionView } from './session-view.js';
import type { SessionView } from './session-view.js';
import { sessionOwnerAndStatus, transitionSession } from './session-transitions.js';
import type { SessionTransition } from './state-machine.js';
import { assertAllowed, nextStatus } from './state-machine.js';

export interface NewSession {
  title: string;
  description?: string | null;
  type: string;
  startsAt: string;
  durationMinutes: number;
  capacity: number;
}
export type SessionEdit = Partial<NewSession>;
export interface SessionFilter {
  status?: SessionStatus;
  from?: string;
  to?: string;
  type?: string;
  trainerId?: string;
  limit: number;
  cursor?: string;
}
const ListCursor = z.object({
  startsAt: z.string().datetime().refine(isStorableInstant, INSTANT_RANGE_MESSAGE),
  id: z.string().uuid(),
});

export class SessionService {
  constructor(
    private readonly orm: MikroORM,
    private readonly outbox: OutboxSignal,
    private readonly listCache: SessionListCache = new SessionListCache(0),
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A session's row or its registrations changed (committed): the list must show it from now on. */
  listChanged(): void {
    this.listCache.invalidate();
  }

  async create(trainerId: string, input: NewSession): Promise<SessionView> {
    const startsAt = this.futureDate(input.startsAt);
    const session = new WorkoutSession();
    Object.assign(session, { ...input, description: input.description ?? null, startsAt, trainerId });
    await this.orm.em.fork().transactional(async (tx) => {
      tx.persist(session);
      recordSessionEvent(tx, session, 'created');
    });
    this.listChanged();
    this.outbox.kick();
    return sessionView(session, { registered: 0, waitlisted: 0 });
  }

  async get(id: string, userId: string): Promise<SessionView & { registration: RegistrationView | null }> {
    const detail = await sessionDetail(this.orm, id, userId);
    if (detail === null) throw new NotFound('session', id);
    return detail;
  }

  /** `list` as JSON, shared with every caller asking the same page (SessionListCache). */
  listJson(filter: SessionFilter): Promise<string> {
    const key = JSON.stringify([
      filter.status,
      filter.from,
      filter.to,
      filter.type,
      filter.trainerId,
      filter.cursor,
      filter.limit,
    ]);
    return this.listCache.json(key, () => this.list(filter));
  }

  /** Soonest first; keyset pagination on (startsAt, id); counts come in the same statement (no N+1). */
  async list(filter: SessionFilter): Promise<Page<SessionView>> {
    const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor, ListCursor);
    const rows = await listSessions(this.orm, {
      status: filter.status,
      // Through Date, as before: millisecond precision, whatever offset the client wrote.
      from: filter.from === undefined ? undefined : new Date(filter.from).toISOString(),
      to: filter.to === undefined ? undefined : new Date(filter.to).toISOString(),
      type: filter.type,
      trainerId: filter.trainerId,
      after,
      limit: filter.limit + 1,
    });
    const items = rows.slice(0, filter.limit);
    const last = items.at(-1);
    return {
      items,
      nextCursor:
        rows.length > filter.limit && last ? encodeCursor({ startsAt: last.startsAt, id: last.id }) : null,
    };
  }

  async edit(id: string, trainerId: string, edit: SessionEdit): Promise<SessionView> {
    const startsAt = edit.startsAt === undefined ? undefined : this.futureDate(edit.startsAt);
    return this.mutate(id, trainerId, async (tx, session) => {
      assertAllowed(session, 'edit');
      const rescheduled = startsAt !== undefined && startsAt.getTime() !== session.startsAt.getTime();
      const { startsAt: _ignored, ...rest } = edit;
      Object.assign(session, rest);
      if (startsAt !== undefined) session.startsAt = startsAt;
      if (edit.capacity !== undefined) await this.fitCapacity(tx, session);
      if (rescheduled) recordSessionEvent(tx, session, 'rescheduled');
    });
  }

  async transition(id: string, trainerId: string, transition: SessionTransition): Promise<SessionView> {
    let view: SessionView | null = null;
    let unknown = true;
    try {
      view = await transitionSession(this.orm, transition, {
        id,
        trainerId,
        at: this.now(),
        eventId: randomUUID(),
      });
      unknown = false;
    } finally {
      // Also after a failed statement: whether it committed is unknown (a lost answer).
      if (view !== null || unknown) this.listChanged();
    }
    if (view === null) return this.refuse(id, trainerId, transition);
    this.outbox.kick();
    return view;
  }

  /** Why a transition changed nothing: no such session, another trainer's, or not in the `from` state. */
  private async refuse(id: string, trainerId: string, transition: SessionTransition): Promise<never> {
    const current = await sessionOwnerAndStatus(this.orm, id);
    if (current === null) throw new NotFound('session', id);
    if (current.trainerId !== trainerId) throw new Forbidden('only the session’s own trainer may change it');
    nextStatus({ id, status: current.status }, transition);
    // In the `from` state now but not when the statement ran: the state machine never goes back, so unreachable.
    throw new ConcurrentUpdate(`session ${id}`);
  }

  /** Loads the session row locked FOR UPDATE, checks ownership, applies `change`, commits, kicks the outbox. */
  private async mutate(
    id: string,
    trainerId: string,
    change: (tx: EntityManager, session: WorkoutSession) => Promise<void>,
  ): Promise<SessionView> {
    const em = this.orm.em.fork();
    let session: WorkoutSession | undefined;
    try {
      await em.transactional(async (tx) => {
        const locked = await tx.findOne(WorkoutSession, id, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (locked === null) throw new NotFound('session', id);
        if (locked.trainerId !== trainerId)
          throw new Forbidden('only the session’s own trainer may change it');
        await change(tx, locked);
        session = locked;
      });
    } catch (cause) {
      if (cause instanceof OptimisticLockError) throw new ConcurrentUpdate(`session ${id}`, cause);
      throw cause;
    } finally {
      // Also after a failed commit: whether it changed anything is unknown (a lost answer to COMMIT).
      if (session !== undefined) this.listChanged();
    }
    this.outbox.kick();
    const counts = await this.counts(em, [id]);
    return sessionView(session!, counts.get(id) ?? ZERO);
  }

  /** A raised capacity promotes waitlisted trainees; a capacity below the registered count is refused. */
  private async fitCapacity(tx: EntityManager, session: WorkoutSession): Promise<void> {
    const registered = await tx.count(Registration, {
      sessionId: session.id,
      status: RegistrationStatus.REGISTERED,
    });
    if (session.capacity < registered) {
      throw new ValidationFailed(
        `capacity ${session.capacity} is below the ${registered} registered trainees`,
        {
          details: { field: 'capacity', registered },
        },
      );
    }
    const promoted = await tx.find(
      Registration,
      { sessionId: session.id, status: RegistrationStatus.WAITLISTED },
      { orderBy: { queuedAt: 'asc', id: 'asc' }, limit: session.capacity - registered },
    );
    for (const r of promoted) {
      r.status = RegistrationStatus.REGISTERED;
      recordRegistrationEvent(tx, session.id, r.traineeId, 'registered');
    }
  }

  private async counts(em: EntityManager, ids: string[]): Promise<Map<string, Counts>> {
    const result = new Map<string, Counts>();
    if (ids.length === 0) return result;
    const rows: { session_id: string; registered: string; waitlisted: string }[] = await em
      .getConnection()
      .execute(
        `select session_id,
           count(*) filter (where status = 'registered') as registered,
           count(*) filter (where status = 'waitlisted') as waitlisted
         from registration where session_id in (${ids.map(() => '?').join(', ')}) group by session_id`,
        ids,
      );
    for (const r of rows) {
      result.set(r.session_id, { registered: Number(r.registered), waitlisted: Number(r.waitlisted) });
    }
    return result;
  }

  private futureDate(iso: string): Date {
    const at = new Date(iso);
    if (at.getTime() <= this.now().getTime()) {
      throw new ValidationFailed('startsAt must be in the future', { details: { field: 'startsAt' } });
    }
    return at;
  }
}

interface Counts {
  registered: number;
  waitlisted: number;
}
const ZERO: Counts = { registered: 0, waitlisted: 0 };
