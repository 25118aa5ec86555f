import { z } from 'zod';
import { AgeBandId, PersonalBestClaim } from './social.js';

/**
 * The join ticket: a short-lived HS256 JWT that the API signs on POST /v1/sessions/:id/join and the
 * gateway verifies on connect, with algorithm, issuer and audience pinned on both sides.
 */
export const JOIN_TICKET = Object.freeze({
  algorithm: 'HS256',
  issuer: 'pulse-api',
  audience: 'pulse-gateway',
} as const);

export const JoinTicketClaims = z.object({
  sub: z.string().uuid(),
  sid: z.string().uuid(),
  role: z.literal('trainee'),
  name: z.string().min(1),
  weightKg: z.number().positive(),
  startsAt: z.string().datetime({ offset: true }),
  /** Issued at (JWT, unix seconds): a ticket issued before the trainee unregistered no longer works. */
  iat: z.number().int().nonnegative().optional(),
  /**
   * The trainee's age band in the session's year, only when they opted in to age-band boards
   * (`showOnBoards`) and told their birth year (issue 16).
   */
  band: AgeBandId.optional(),
  /**
   * The trainee's best finished score of the session's type with its per-minute curve (issue 16): the gateway
   * adds `rank.best` to every rank frame of this trainee from it. Absent before a first finished class.
   */
  best: PersonalBestClaim.optional(),
});
export type JoinTicketClaims = z.infer<typeof JoinTicketClaims>;
