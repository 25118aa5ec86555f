import { createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { JOIN_TICKET } from '@pulse/contracts';
import type { JoinTicketClaims } from '@pulse/contracts';

/** Weight used for calories when the trainee never told us theirs. */
export const DEFAULT_WEIGHT_KG = 70;

/** Signs the gateway's join ticket: HS256 with the contract's issuer and audience, short-lived. */
export class JoinTickets {
  /** A KeyObject built once: jsonwebtoken would otherwise re-derive it from the string per call. */
  private readonly key: KeyObject;

  constructor(
    secret: string,
    private readonly ttlSec: number,
  ) {
    this.key = createSecretKey(Buffer.from(secret));
  }

  sign(claims: JoinTicketClaims): string {
    const { sub, ...rest } = claims;
    return jwt.sign(rest, this.key, {
      algorithm: JOIN_TICKET.algorithm,
      issuer: JOIN_TICKET.issuer,
      audience: JOIN_TICKET.audience,
      subject: sub,
      expiresIn: this.ttlSec,
    });
  }
}
