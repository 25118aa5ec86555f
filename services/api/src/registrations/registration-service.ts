import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { ageBandOf, type AgeBand, type LiveState } from '@pulse/contracts';
import { User } from '../accounts/user.entity.js';
import { Forbidden, NotFound } from '../errors.js';
import { personalBestOf } from '../results/personal-best.js';
import { recordRegistrationEvent } from '../outbox/outbox.js';
import type { OutboxSignal } from '../outbox/outbox.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { sessionSnapshot } from '../sessions/session-view.js';
import type { SessionView } from '../sessions/session-view.js';
import { assertAllowed } from '../sessions/state-machine.js';
import type { SessionService } from '../sessions/session-service.js';
import { DEFAULT_WEIGHT_KG } from './join-ticket.js';
import type { JoinTickets } from './join-ticket.js';
import { Registration, RegistrationStatus } from './registration.entity.js';
import { registrationView } from './registration-view.js';
import type { RegistrationView } from './registration-view.js';

export interface JoinResult {
  state: LiveState;
  session: SessionView;
  gatewayUrl: string;
  ticket: string;
}

/**
 * Registrations, the waitlist and joining. Every change takes the session row lock (SELECT ... FOR
 * UPDATE) first, so concurrent registrations for one session are serialized and capacity holds.
 */
export class RegistrationService {
  constructor(
    private readonly orm: MikroORM,
    private readonly sessions: SessionService,
    private readonly tickets: JoinTickets,
    private readonly gatewayUrl: string,
    private readonly outbox: OutboxSignal,
  ) {}

  /** Returns the registration and whether it was created by this call (201) or already existed (200). */
  async register(
    sessionId: string,
    traineeId: string,
  ): Promise<{ registration: RegistrationView; created: boolean }> {
    const result = await this.orm.em.fork().transactional(async (tx) => {
      const session = await lockSession(tx, sessionId);
      const existing = await tx.findOne(Registration, { sessionId, traineeId });
      if (existing !== null && existing.status !== RegistrationStatus.CANCELLED) {
        return { registration: registrationView(existing), created: false };
      }
      assertAllowed(session, 'register');
      const registered = await tx.count(Registration, { sessionId, status: RegistrationStatus.REGISTERED });
      const row = existing ?? Object.assign(new Registration(), { sessionId, traineeId });
      row.status =
        registered < session.capacity ? RegistrationStatus.REGISTERED : RegistrationStatus.WAITLISTED;
      row.queuedAt = new Date();
      tx.persist(row);
      if (row.status === RegistrationStatus.REGISTERED) {
        recordRegistrationEvent(tx, sessionId, traineeId, 'registered');
      }
      await tx.flush();
      return { registration: registrationView(row), created: true };
    });
    if (result.created) {
      this.sessions.listChanged();
      this.outbox.kick();
    }
    return result;
  }

  /** Cancels the caller's registration; a freed seat goes to the first waitlisted trainee. */
  async unregister(sessionId: string, traineeId: string): Promise<void> {
    await this.orm.em.fork().transactional(async (tx) => {
      const session = await lockSession(tx, sessionId);
      const mine = await tx.findOne(Registration, { sessionId, traineeId });
      if (mine === null || mine.status === RegistrationStatus.CANCELLED) throw new NotFound('registration');
      assertAllowed(session, 'unregister');
      const freedSeat = mine.status === RegistrationStatus.REGISTERED;
      mine.status = RegistrationStatus.CANCELLED;
      recordRegistrationEvent(tx, sessionId, traineeId, 'unregistered');
      if (!freedSeat) return;
      const next = await tx.findOne(
        Registration,
        { sessionId, status: RegistrationStatus.WAITLISTED },
        { orderBy: { queuedAt: 'asc', id: 'asc' } },
      );
      if (next === null) return;
      next.status = RegistrationStatus.REGISTERED;
      recordRegistrationEvent(tx, sessionId, next.traineeId, 'registered');
    });
    this.sessions.listChanged();
    this.outbox.kick();
  }

  /** A registered trainee gets a join ticket; the first join stamps `joinedAt`. */
  async join(sessionId: string, traineeId: string): Promise<JoinResult> {
    const em = this.orm.em.fork();
    const session = await em.findOne(WorkoutSession, sessionId);
    if (session === null) throw new NotFound('session', sessionId);
    const mine = await em.findOne(Registration, { sessionId, traineeId });
    if (mine === null || mine.status !== RegistrationStatus.REGISTERED) {
      throw new Forbidden(
        mine?.status === RegistrationStatus.WAITLISTED
          ? 'you are on the waitlist of this session'
          : 'you are not registered for this session',
      );
    }
    assertAllowed(session, 'join');
    const [trainee, best] = await Promise.all([
      em.findOneOrFail(User, traineeId),
      personalBestOf(em, traineeId, session.type),
    ]);
    await em.nativeUpdate(Registration, { id: mine.id, joinedAt: null }, { joinedAt: new Date() });
    const snapshot = sessionSnapshot(session);
    const ticket = this.tickets.sign({
      sub: traineeId,
      sid: sessionId,
      role: 'trainee',
      name: trainee.name,
      weightKg: trainee.weightKg ?? DEFAULT_WEIGHT_KG,
      startsAt: snapshot.startsAt,
      ...boardBand(trainee, snapshot.startsAt),
      ...(best === undefined ? {} : { best }),
    });
    return {
      state: session.status === 'live' ? 'live' : 'waiting',
      session: (await this.sessions.get(sessionId, traineeId)) as SessionView,
      gatewayUrl: this.gatewayUrl,
      ticket,
    };
  }
}

/** The age band the trainee appears under on the session's band board: only when they opted in (issue 16). */
function boardBand(trainee: User, startsAt: string): { band?: AgeBand } {
  if (!trainee.showOnBoards || trainee.birthYear === null) return {};
  return { band: ageBandOf(trainee.birthYear, new Date(startsAt).getUTCFullYear()) };
}

async function lockSession(tx: EntityManager, sessionId: string): Promise<WorkoutSession> {
  const session = await tx.findOne(WorkoutSession, sessionId, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (session === null) throw new NotFound('session', sessionId);
  return session;
}
