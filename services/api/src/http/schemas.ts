import { z } from 'koa-swagger-decorator';
import { ErrorCode, GENDERS, type Gender } from '@pulse/contracts';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../pagination.js';
import { INSTANT_RANGE_MESSAGE, isStorableInstant } from '../timestamps.js';

// Importing `z` from koa-swagger-decorator guarantees zod is extended with `.openapi()` first.
export { z };

export const Uuid = z.string().uuid();
export const IsoTime = z.string().datetime({ offset: true });
/** An instant sent by a client: ISO 8601 with an offset, inside the range PostgreSQL and Date share. */
export const InputTime = IsoTime.refine(isStorableInstant, INSTANT_RANGE_MESSAGE);

/**
 * Text PostgreSQL can store, for every client string written to or compared in it: no NUL (it cuts a bind
 * parameter short, protocol violation 08P01, and jsonb refuses \u0000, 22P05) and no UTF-16 surrogate without
 * its pair (jsonb refuses it, 22P02; a text column would keep U+FFFD instead). Either was a 500 or a 503 with
 * Retry-After. The pattern reads the same with and without the `u` flag, as OpenAPI tools differ.
 */
// eslint-disable-next-line no-control-regex -- NUL is what it refuses
const STORABLE_TEXT = /^(?:[^\u0000\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;
export const StorableText = z
  .string()
  .regex(STORABLE_TEXT, 'must not contain NUL characters or unpaired UTF-16 surrogates');

export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.nativeEnum(ErrorCode),
      message: z.string(),
      details: z.any().optional(),
    }),
  })
  .openapi('ErrorEnvelope');

export const IdParams = z.object({ id: Uuid }).strict();

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
  cursor: z.string().min(1).max(512).optional(),
};

export const GenderSchema = z.enum(GENDERS as [Gender, ...Gender[]]);

export const User = z
  .object({
    id: Uuid,
    email: z.string().email(),
    name: z.string(),
    role: z.enum(['trainee', 'trainer']),
    weightKg: z.number().nullable(),
    birthYear: z.number().int().nullable().openapi({ description: 'optional; never shown to others' }),
    // OpenAPI 3.0: a nullable enum must list null among its values.
    gender: GenderSchema.nullable().openapi({
      description: 'optional; never shown to others',
      enum: [...GENDERS, null],
    }),
    showOnBoards: z.boolean().openapi({
      description: 'the trainee appears on the age-band boards of the classes they join (off by default)',
    }),
    createdAt: IsoTime,
  })
  .openapi('User');

export const AuthResult = z
  .object({ user: User, accessToken: z.string(), refreshToken: z.string() })
  .openapi('AuthResult');

export const SessionSnapshot = z
  .object({
    id: Uuid,
    trainerId: Uuid,
    title: z.string(),
    type: z.string(),
    status: z.enum(['scheduled', 'live', 'ended', 'cancelled']),
    startsAt: IsoTime,
    durationMinutes: z.number().int(),
    capacity: z.number().int(),
    startedAt: IsoTime.nullable(),
    endedAt: IsoTime.nullable(),
    cancelledAt: IsoTime.nullable(),
  })
  .openapi('SessionSnapshot');

export const Session = SessionSnapshot.extend({
  description: z.string().nullable(),
  registeredCount: z.number().int(),
  waitlistedCount: z.number().int(),
  createdAt: IsoTime,
}).openapi('Session');

export const Registration = z
  .object({
    id: Uuid,
    sessionId: Uuid,
    status: z.enum(['registered', 'waitlisted', 'cancelled']),
    queuedAt: IsoTime,
    joinedAt: IsoTime.nullable(),
  })
  .openapi('Registration');

export const SessionWithRegistration = Session.extend({ registration: Registration.nullable() }).openapi(
  'SessionWithRegistration',
);

export const pageOf = <T extends z.ZodTypeAny>(item: T, name: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);
