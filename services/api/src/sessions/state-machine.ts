import type { SessionEventType, SessionStatus } from '@pulse/contracts';
import { InvalidState } from '../errors.js';

/**
 * The session lifecycle of the public contract, in one place:
 * scheduled → live → ended, scheduled → cancelled. Everything else is INVALID_STATE.
 */
export const SessionTransition = {
  start: { from: 'scheduled', to: 'live', event: 'started' },
  end: { from: 'live', to: 'ended', event: 'ended' },
  cancel: { from: 'scheduled', to: 'cancelled', event: 'cancelled' },
} as const satisfies Record<string, { from: SessionStatus; to: SessionStatus; event: SessionEventType }>;
export type SessionTransition = keyof typeof SessionTransition;

/** What may be done to a session in which states (besides the transitions above). */
const ALLOWED_IN: Record<SessionAction, readonly SessionStatus[]> = {
  edit: ['scheduled'],
  register: ['scheduled', 'live'],
  unregister: ['scheduled', 'live'],
  join: ['scheduled', 'live'],
  feedback: ['ended'],
  results: ['live', 'ended'],
};
export type SessionAction = 'edit' | 'register' | 'unregister' | 'join' | 'feedback' | 'results';

export interface SessionState {
  id: string;
  status: SessionStatus;
}

/** Returns the target state of a transition or throws InvalidState naming the current one. */
export function nextStatus(session: SessionState, transition: SessionTransition): SessionStatus {
  const rule = SessionTransition[transition];
  if (session.status !== rule.from) throw new InvalidState(session.id, session.status, transition);
  return rule.to;
}

export function assertAllowed(session: SessionState, action: SessionAction): void {
  if (!ALLOWED_IN[action].includes(session.status))
    throw new InvalidState(session.id, session.status, action);
}
