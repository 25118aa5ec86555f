import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { Unauthenticated } from '../errors.js';
import type { Role } from './user.entity.js';

/** Access tokens are issued by and for the API itself; join tickets use their own audience and secret. */
export const ACCESS_TOKEN = Object.freeze({
  algorithm: 'HS256',
  issuer: 'pulse-api',
  audience: 'pulse-api',
} as const);
const REFRESH_TOKEN_BYTES = 32;
/** Access tokens whose signature and claims were checked, kept with their expiry (~300 bytes each). */
const VERIFIED_TOKENS = 10_000;

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
  /**
   * An app sends the same token with every request for its lifetime; checking its signature again each
   * time (an HMAC and two JSON parses, ~30 us) was ~5 % of the API's CPU on the read paths (issue 13). The
   * exact token string maps to what its first check found; expiry is still checked on every use.
   */
  private readonly verified = new LRUCache<string, { claims: AccessClaims; expSec: number }>({
    max: VERIFIED_TOKENS,
  });

  constructor(
    secret: string,
    private readonly ttlSec: number,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.key = createSecretKey(Buffer.from(secret));
  }

  sign(userId: string, role: Role): string {
    return jwt.sign({ role, iat: Math.floor(this.nowMs() / 1000) }, this.key, {
      algorithm: ACCESS_TOKEN.algorithm,
      issuer: ACCESS_TOKEN.issuer,
      audience: ACCESS_TOKEN.audience,
      subject: userId,
      expiresIn: this.ttlSec,
    });
  }

  /** Algorithm, issuer, audience and expiry are all checked; `none` and RS/HS confusion are refused. */
  verify(token: string): AccessClaims {
    const known = this.verified.get(token);
    // jsonwebtoken's own rule: expired once the current second reaches `exp`.
    if (known !== undefined && Math.floor(this.nowMs() / 1000) < known.expSec) return known.claims;
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.key, {
        algorithms: [ACCESS_TOKEN.algorithm],
        issuer: ACCESS_TOKEN.issuer,
        audience: ACCESS_TOKEN.audience,
        clockTimestamp: Math.floor(this.nowMs() / 1000),
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
    const claims: AccessClaims = { userId: payload.sub, role };
    if (typeof payload.exp === 'number') this.verified.set(token, { claims, expSec: payload.exp });
    return claims;
  }
}

/** A refresh token is an opaque random string; only its SHA-256 is stored. */
export const newRefreshToken = (): string => randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');
