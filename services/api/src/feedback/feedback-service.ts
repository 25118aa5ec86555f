import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { FeedbackAlreadyGiven, Forbidden, NotFound } from '../errors.js';
import { Registration } from '../registrations/registration.entity.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { assertAllowed } from '../sessions/state-machine.js';
import { Feedback } from './feedback.entity.js';

export interface FeedbackView {
  id: string;
  sessionId: string;
  traineeId: string;
  rating: number;
  comment: string | null;
  createdAt: string;
}
export interface FeedbackSummary {
  average: number | null;
  count: number;
  items: FeedbackView[];
}

const view = (f: Feedback): FeedbackView => ({
  id: f.id,
  sessionId: f.sessionId,
  traineeId: f.traineeId,
  rating: f.rating,
  comment: f.comment,
  createdAt: f.createdAt.toISOString(),
});

export class FeedbackService {
  constructor(private readonly orm: MikroORM) {}

  /** Only a trainee who joined, only after `ended`, only once. */
  async give(
    sessionId: string,
    traineeId: string,
    input: { rating: number; comment?: string },
  ): Promise<FeedbackView> {
    const em = this.orm.em.fork();
    const session = await em.findOne(WorkoutSession, sessionId);
    if (session === null) throw new NotFound('session', sessionId);
    const joined = await em.findOne(Registration, { sessionId, traineeId, joinedAt: { $ne: null } });
    if (joined === null) throw new Forbidden('only trainees who joined the session may give feedback');
    assertAllowed(session, 'feedback');
    const row = Object.assign(new Feedback(), { sessionId, traineeId, rating: input.rating });
    row.comment = input.comment ?? null;
    try {
      await em.persistAndFlush(row);
    } catch (cause) {
      if (cause instanceof UniqueConstraintViolationException)
        throw new FeedbackAlreadyGiven(sessionId, cause);
      throw cause;
    }
    return view(row);
  }

  async summary(sessionId: string, trainerId: string): Promise<FeedbackSummary> {
    const em = this.orm.em.fork();
    const session = await em.findOne(WorkoutSession, sessionId);
    if (session === null) throw new NotFound('session', sessionId);
    if (session.trainerId !== trainerId)
      throw new Forbidden('only the session’s own trainer may read its feedback');
    const rows = await em.find(Feedback, { sessionId }, { orderBy: { createdAt: 'desc', id: 'asc' } });
    const total = rows.reduce((sum, f) => sum + f.rating, 0);
    return {
      average: rows.length === 0 ? null : Math.round((total / rows.length) * 100) / 100,
      count: rows.length,
      items: rows.map(view),
    };
  }
}
