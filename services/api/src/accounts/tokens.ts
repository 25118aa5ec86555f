import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Unauthenticated } from '../errors.js';
import type { Role } from './user.entity.js';

/** Access tokens are issued by and for the API itself; join tickets use their own audience and secret. */
export const ACCESS_TOKEN = Object.freeze({
  algorithm: 'HS256',
  issuer: 'pulse-api',
  audience: 'pulse-api',
} as const);
const REFRESH_TOKEN_BYTES = 32;

export interface AccessClaims {
  userId: string;
  role: Role;
}

export class AccessTokens {
  /**
   * Given a string, jsonwebtoken first tries to parse it as a PEM public key (which throws) and then
   * builds a secret KeyObject, on every sign and verify: that was ~10% of the API's CPU per request.
   * Built once here; a `secret` KeyObject still only verifies HS* (and `algorithms` pins HS256).
   */
  private readonly key: KeyObject;

  constructor(
    secret: string,
    private readonly ttlSec: number,
  ) {
    this.key = createSecretKey(Buffer.from(secret));
  }

  sign(userId: string, role: Role): string {
    return jwt.sign({ role }, this.key, {
      algorithm: ACCESS_TOKEN.algorithm,
      issuer: ACCESS_TOKEN.issuer,
      audience: ACCESS_TOKEN.audience,
      subject: userId,
      expiresIn: this.ttlSec,
    });
  }

  /** Algorithm, issuer, audience and expiry are all checked; `none` and RS/HS confusion are refused. */
  verify(token: string): AccessClaims {
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.key, {
        algorithms: [ACCESS_TOKEN.algorithm],
        issuer: ACCESS_TOKEN.issuer,
        audience: ACCESS_TOKEN.audience,
      });
    } catch (cause) {
      const expired = cause instanceof jwt.TokenExpiredError;
      throw new Unauthenticated(expired ? 'access token expired' : 'invalid access token', { cause });
    }
    if (typeof payload === 'string' || typeof payload.sub !== 'string') {
      throw new Unauthenticated('invalid access token');
    }
    const role = (payload as { role?: unknown }).role;
    if (role !== 'trainee' && role !== 'trainer') throw new Unauthenticated('invalid access token');
    return { userId: payload.sub, role };
  }
}

/** A refresh token is an opaque random string; only its SHA-256 is stored. */
export const newRefreshToken = (): string => randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');
