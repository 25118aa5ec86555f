import type { Context } from 'koa';
import { body, routeConfig } from 'koa-swagger-decorator';
import { MIN_BIRTH_YEAR, MIN_PROFILE_AGE } from '@pulse/contracts';
import { AuthResult, GenderSchema, StorableText, User, z } from '../http/schemas.js';
import { routeDoc } from '../http/route-docs.js';
import { caller } from '../http/authenticate.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.js';

const Email = z.string().trim().email().max(254);
const RegisterBody = z
  .object({
    email: Email,
    password: z.string().min(MIN_PASSWORD_LENGTH).max(MAX_PASSWORD_LENGTH),
    name: StorableText.trim().min(1).max(100),
    role: z.enum(['trainee', 'trainer']),
    weightKg: z.number().min(20).max(400).optional(),
  })
  .strict();
const LoginBody = z.object({ email: Email, password: z.string().min(1).max(MAX_PASSWORD_LENGTH) }).strict();
const RefreshBody = z.object({ refreshToken: z.string().min(1).max(512) }).strict();
const BirthYear = z
  .number()
  .int()
  .min(MIN_BIRTH_YEAR)
  .refine((year) => year <= new Date().getUTCFullYear() - MIN_PROFILE_AGE, {
    message: `must be at least ${MIN_PROFILE_AGE} years before this year`,
  });
const ProfileBody = z
  .object({
    name: StorableText.trim().min(1).max(100).optional(),
    weightKg: z.number().min(20).max(400).nullable().optional(),
    birthYear: BirthYear.nullable().optional(),
    gender: GenderSchema.nullable().optional(),
    showOnBoards: z.boolean().optional(),
  })
  .strict()
  .openapi('ProfileChange', { description: 'only the fields given change; null clears an optional one' });
const Profile = User.extend({
  followingCount: z.number().int(),
  followersCount: z.number().int(),
}).openapi('Profile');

interface Parsed<B> {
  body: B;
}

export class AuthRoutes {
  @routeConfig(
    routeDoc({
      method: 'post',
      path: '/v1/auth/register',
      summary: 'Create an account (trainee or trainer); rate limited per client address',
      tags: ['auth'],
      anonymous: true,
      success: { status: 201, description: 'account created', schema: AuthResult },
      errors: ['VALIDATION_FAILED', 'CONFLICT', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE'],
    }),
  )
  @body(RegisterBody)
  async register(ctx: Context, args: Parsed<z.infer<typeof RegisterBody>>) {
    ctx.status = 201;
    ctx.body = await ctx.services.accounts.register(args.body, ctx.ip);
  }

  @routeConfig(
    routeDoc({
      method: 'post',
      path: '/v1/auth/login',
      summary: 'Log in; failed attempts are limited per account and client address, per address, per account',
      tags: ['auth'],
      anonymous: true,
      success: { status: 200, description: 'logged in', schema: AuthResult },
      errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE'],
    }),
  )
  @body(LoginBody)
  async login(ctx: Context, args: Parsed<z.infer<typeof LoginBody>>) {
    ctx.body = await ctx.services.accounts.login(args.body.email, args.body.password, ctx.ip);
  }

  @routeConfig(
    routeDoc({
      method: 'post',
      path: '/v1/auth/refresh',
      summary: 'Rotate a refresh token; reusing a rotated one revokes its whole family',
      tags: ['auth'],
      anonymous: true,
      success: { status: 200, description: 'a new token pair', schema: AuthResult },
      errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'PAYLOAD_TOO_LARGE'],
    }),
  )
  @body(RefreshBody)
  async refresh(ctx: Context, args: Parsed<z.infer<typeof RefreshBody>>) {
    ctx.body = await ctx.services.accounts.refresh(args.body.refreshToken);
  }

  @routeConfig(
    routeDoc({
      method: 'post',
      path: '/v1/auth/logout',
      summary: 'Revoke the refresh token (and its family)',
      tags: ['auth'],
      success: { status: 204, description: 'logged out' },
      errors: ['VALIDATION_FAILED', 'PAYLOAD_TOO_LARGE'],
    }),
  )
  @body(RefreshBody)
  async logout(ctx: Context, args: Parsed<z.infer<typeof RefreshBody>>) {
    await ctx.services.accounts.logout(caller(ctx).userId, args.body.refreshToken);
    ctx.status = 204;
  }

  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/me',
      summary: 'The caller’s profile, with how many they follow and how many follow them',
      tags: ['auth'],
      success: { status: 200, description: 'profile', schema: Profile },
      errors: ['NOT_FOUND'],
    }),
  )
  async me(ctx: Context) {
    const { userId } = caller(ctx);
    const [user, counts] = await Promise.all([
      ctx.services.accounts.profile(userId),
      ctx.services.social.counts(userId),
    ]);
    ctx.body = { ...user, ...counts };
  }

  @routeConfig(
    routeDoc({
      method: 'patch',
      path: '/v1/me',
      summary: 'Change the caller’s profile (name, weight, optional birth year and gender, board opt-in)',
      tags: ['auth'],
      success: { status: 200, description: 'the changed profile', schema: Profile },
      errors: ['VALIDATION_FAILED', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE'],
    }),
  )
  @body(ProfileBody)
  async changeProfile(ctx: Context, args: Parsed<z.infer<typeof ProfileBody>>) {
    const { userId } = caller(ctx);
    const user = await ctx.services.accounts.updateProfile(userId, args.body);
    ctx.body = { ...user, ...(await ctx.services.social.counts(userId)) };
  }
}
