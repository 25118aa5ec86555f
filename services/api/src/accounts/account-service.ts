import { randomUUID } from 'node:crypto';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { EmailTaken, NotFound, Unauthenticated } from '../errors.js';
import type { LoginLimiter, RegistrationLimiter } from './auth-limits.js';
import { decoyPasswordHash, hashPassword, passwordMatches } from './passwords.js';
import { RefreshToken } from './refresh-token.entity.js';
import { hashRefreshToken, newRefreshToken } from './tokens.js';
import type { AccessTokens } from './tokens.js';
import { User } from './user.entity.js';
import type { Role } from './user.entity.js';
import type { Gender } from '@pulse/contracts';

export interface UserView {
  id: string;
  email: string;
  name: string;
  role: Role;
  weightKg: number | null;
  /** Optional (issue 16): never shown to others; the age band only on boards, and only with `showOnBoards`. */
  birthYear: number | null;
  gender: Gender | null;
  showOnBoards: boolean;
  createdAt: string;
}

/** What a caller may change of their own profile (`null` clears an optional field). */
export interface ProfileChange {
  name?: string;
  weightKg?: number | null;
  birthYear?: number | null;
  gender?: Gender | null;
  showOnBoards?: boolean;
}
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}
export type AuthResult = { user: UserView } & TokenPair;

export const userView = (u: User): UserView => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  weightKg: u.weightKg,
  birthYear: u.birthYear,
  gender: u.gender,
  showOnBoards: u.showOnBoards,
  createdAt: u.createdAt.toISOString(),
});

export interface Registration {
  email: string;
  password: string;
  name: string;
  role: Role;
  weightKg?: number;
}

export class AccountService {
  constructor(
    private readonly orm: MikroORM,
    private readonly accessTokens: AccessTokens,
    private readonly limits: { login: LoginLimiter; registration: RegistrationLimiter },
    private readonly refreshTtlSec: number,
  ) {}

  /** `address`: the client's, counted before the (expensive) hash, also for a taken email. */
  async register(input: Registration, address: string): Promise<AuthResult> {
    await this.limits.registration.attempt(address);
    const user = new User();
    user.email = input.email.toLowerCase();
    user.name = input.name;
    user.role = input.role;
    user.weightKg = input.weightKg ?? null;
    user.passwordHash = await hashPassword(input.password);
    const em = this.orm.em.fork();
    try {
      await em.persistAndFlush(user);
    } catch (cause) {
      if (cause instanceof UniqueConstraintViolationException) throw new EmailTaken(cause);
      throw cause;
    }
    return { user: userView(user), ...(await this.issue(em, user, randomUUID())) };
  }

  /** Only failed attempts count against the limits (see LoginLimiter). */
  async login(email: string, password: string, address: string): Promise<AuthResult> {
    const normalized = email.toLowerCase();
    const em = this.orm.em.fork();
    const user = await this.limits.login.attempt(normalized, address, async () => {
      const found = await em.findOne(User, { email: normalized });
      const ok = await passwordMatches(found?.passwordHash ?? (await decoyPasswordHash()), password);
      return found !== null && ok ? found : null;
    });
    if (user === null) throw new Unauthenticated('wrong email or password');
    return { user: userView(user), ...(await this.issue(em, user, randomUUID())) };
  }

  /** Rotates: the presented token stops working; presenting a rotated token again revokes its family. */
  async refresh(token: string): Promise<AuthResult> {
    const em = this.orm.em.fork();
    const outcome = await em.transactional(async (tx) => {
      const stored = await tx.findOne(
        RefreshToken,
        { tokenHash: hashRefreshToken(token) },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (stored === null || stored.revokedAt !== null || stored.expiresAt.getTime() <= Date.now()) {
        return { kind: 'invalid' as const };
      }
      if (stored.rotatedAt !== null) {
        await this.revokeFamily(tx, stored.familyId);
        return { kind: 'reused' as const };
      }
      stored.rotatedAt = new Date();
      const user = await tx.findOneOrFail(User, stored.userId);
      return { kind: 'rotated' as const, user, pair: await this.issue(tx, user, stored.familyId) };
    });
    if (outcome.kind === 'invalid') throw new Unauthenticated('invalid refresh token');
    if (outcome.kind === 'reused')
      throw new Unauthenticated('refresh token reused; every session of it is revoked');
    return { user: userView(outcome.user), ...outcome.pair };
  }

  /** Revokes the presented token's family if it is the caller's; unknown tokens are ignored (idempotent). */
  async logout(userId: string, token: string): Promise<void> {
    const em = this.orm.em.fork();
    const stored = await em.findOne(RefreshToken, { tokenHash: hashRefreshToken(token), userId });
    if (stored !== null) await this.revokeFamily(em, stored.familyId);
  }

  async profile(userId: string): Promise<UserView> {
    const user = await this.orm.em.fork().findOne(User, userId);
    if (user === null) throw new NotFound('user', userId);
    return userView(user);
  }

  /** Changes the caller's own profile; only the fields given. */
  async updateProfile(userId: string, change: ProfileChange): Promise<UserView> {
    const em = this.orm.em.fork();
    const user = await em.findOne(User, userId);
    if (user === null) throw new NotFound('user', userId);
    if (change.name !== undefined) user.name = change.name;
    if (change.weightKg !== undefined) user.weightKg = change.weightKg;
    if (change.birthYear !== undefined) user.birthYear = change.birthYear;
    if (change.gender !== undefined) user.gender = change.gender;
    if (change.showOnBoards !== undefined) user.showOnBoards = change.showOnBoards;
    await em.flush();
    return userView(user);
  }

  private async revokeFamily(em: EntityManager, familyId: string): Promise<void> {
    await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() });
  }

  private async issue(em: EntityManager, user: User, familyId: string): Promise<TokenPair> {
    const refreshToken = newRefreshToken();
    const row = new RefreshToken();
    row.userId = user.id;
    row.familyId = familyId;
    row.tokenHash = hashRefreshToken(refreshToken);
    row.expiresAt = new Date(Date.now() + this.refreshTtlSec * 1000);
    await em.persistAndFlush(row);
    return { accessToken: this.accessTokens.sign(user.id, user.role), refreshToken };
  }
}
