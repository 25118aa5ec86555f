import type { SessionSnapshot } from '@pulse/contracts';
import type { WorkoutSession } from './session.entity.js';

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/** The session as published on NATS (SessionEvent.session). */
export const sessionSnapshot = (s: WorkoutSession): SessionSnapshot => ({
  id: s.id,
  trainerId: s.trainerId,
  title: s.title,
  type: s.type,
  status: s.status,
  startsAt: s.startsAt.toISOString(),
  durationMinutes: s.durationMinutes,
  capacity: s.capacity,
  startedAt: iso(s.startedAt),
  endedAt: iso(s.endedAt),
  cancelledAt: iso(s.cancelledAt),
});

export type SessionView = SessionSnapshot & {
  description: string | null;
  registeredCount: number;
  waitlistedCount: number;
  createdAt: string;
};

export const sessionView = (
  s: WorkoutSession,
  counts: { registered: number; waitlisted: number },
): SessionView => ({
  ...sessionSnapshot(s),
  description: s.description,
  registeredCount: counts.registered,
  waitlistedCount: counts.waitlisted,
  createdAt: s.createdAt.toISOString(),
});
