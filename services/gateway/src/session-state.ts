import type { SessionEvent, SessionStatus } from '@pulse/contracts';

/** What the gateway knows about one session: its status and times, from the API's lifecycle events. */
export interface SessionView {
  status: SessionStatus;
  startsAt: string;
  startedAt: string | null;
  /** `at` of the event this view comes from ('' before any event). */
  eventAt: string;
}

const ORDER: Record<SessionStatus, number> = { scheduled: 0, live: 1, ended: 2, cancelled: 2 };

/** A session without any event yet: scheduled at the ticket's `startsAt`. */
export const initialView = (startsAt: string): SessionView => ({
  status: 'scheduled',
  startsAt,
  startedAt: null,
  eventAt: '',
});

/**
 * Folds an event into the view. Events may arrive twice (stream read on connect and live subscription)
 * or out of order; a status never moves backwards and an older event never overrides a newer one.
 * Returns the new view, or null when the event changes nothing.
 */
export function applyEvent(view: SessionView, event: SessionEvent): SessionView | null {
  const next = event.session.status;
  const forward = ORDER[next] > ORDER[view.status];
  const sameStatusNewer =
    ORDER[next] === ORDER[view.status] && Date.parse(event.at) > Date.parse(view.eventAt || '1970-01-01Z');
  if (!forward && !sameStatusNewer) return null;
  return {
    status: next,
    startsAt: event.session.startsAt,
    startedAt: event.session.startedAt,
    eventAt: event.at,
  };
}
