import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { FeedbackAlreadyGiven, Forbidden, NotFound } from '../errors.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import type { Page } from '../pagination.js';
import { INSTANT_RANGE_MESSAGE, isStorableInstant } from '../timestamps.js';
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
/** `average` and `count` cover every feedback of the session; `items` is one page, newest first. */
export interface FeedbackSummary extends Page<FeedbackView> {
  average: number | null;
  count: number;
}

/** Keyset of the feedback list: `createdAt` with PostgreSQL's microseconds, so no row is skipped. */
const FeedbackCursor = z.object({
  createdAt: z.string().datetime().refine(isStorableInstant, INSTANT_RANGE_MESSAGE),
  id: z.string().uuid(),
});

interface FeedbackRow {
  id: string;
  session_id: string;
  trainee_id: string;
  rating: number;
  comment: string | null;
  created_at: string;
  created_key: string;
}
const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

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

  async summary(
    sessionId: string,
    trainerId: string,
    page: { limit: number; cursor?: string },
  ): Promise<FeedbackSummary> {
    const em = this.orm.em.fork();
    const session = await em.findOne(WorkoutSession, sessionId);
    if (session === null) throw new NotFound('session', sessionId);
    if (session.trainerId !== trainerId)
      throw new Forbidden('only the session’s own trainer may read its feedback');
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, FeedbackCursor);
    const connection = em.getConnection();
    const [totals, rows] = await Promise.all([
      connection.execute<{ count: number; average: string | null }[]>(
        'select count(*)::int as count, round(avg(rating), 2) as average from feedback where session_id = ?::uuid',
        [sessionId],
      ),
      connection.execute<FeedbackRow[]>(
        `select id, session_id, trainee_id, rating, comment,
           to_char(created_at at time zone 'UTC', ${ISO_MS}) as created_at,
           to_char(created_at at time zone 'UTC', ${ISO_US}) as created_key
         from feedback
         where session_id = ?::uuid ${after ? 'and (created_at, id) < (?::timestamptz, ?::uuid)' : ''}
         order by created_at desc, id desc limit ?`,
        after ? [sessionId, after.createdAt, after.id, page.limit + 1] : [sessionId, page.limit + 1],
      ),
    ]);
    const items = rows.slice(0, page.limit);
    const last = items.at(-1);
    return {
      average: totals[0].average === null ? null : Number(totals[0].average),
      count: totals[0].count,
      items: items.map(rowView),
      nextCursor:
        rows.length > page.limit && last ? encodeCursor({ createdAt: last.created_key, id: last.id }) : null,
    };
  }
}

const rowView = (r: FeedbackRow): FeedbackView => ({
  id: r.id,
  sessionId: r.session_id,
  traineeId: r.trainee_id,
  rating: r.rating,
  comment: r.comment,
  createdAt: r.created_at,
});
