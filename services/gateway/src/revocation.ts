import type { JoinTicketClaims, RegistrationEvent } from '@pulse/contracts';

/**
 * Whether a registration event ends what a join ticket allows: the trainee unregistered at or after the
 * ticket was issued (issue 11). A later `registered` event (a new seat) is the latest one again and lets
 * new tickets through; a ticket without `iat` counts as issued at the epoch.
 */
export function revokesTicket(event: RegistrationEvent, claims: Pick<JoinTicketClaims, 'iat'>): boolean {
  return event.status === 'unregistered' && Date.parse(event.at) >= (claims.iat ?? 0) * 1000;
}
