import type { Context } from 'koa';
import { body, routeConfig } from 'koa-swagger-decorator';
import { callerWithRole, caller } from '../http/authenticate.js';
import { routeDoc } from '../http/route-docs.js';
import {
  IdParams,
  InputTime,
  PageQuery,
  Session,
  SessionWithRegistration,
  StorableText,
  pageOf,
  z,
} from '../http/schemas.js';
import { ValidationFailed } from '../errors.js';
import type { SessionTransition } from './state-machine.js';

const MAX_DURATION_MINUTES = 24 * 60;
const MAX_CAPACITY = 100_000;
const fields = {
  title: StorableText.trim().min(1).max(200),
  description: StorableText.max(5000).nullable().optional(),
  type: StorableText.trim().min(1).max(50),
  startsAt: InputTime,
  durationMinutes: z.number().int().min(1).max(MAX_DURATION_MINUTES),
  capacity: z.number().int().min(1).max(MAX_CAPACITY),
};
const CreateBody = z.object(fields).strict();
const EditBody = z
  .object({
    title: fields.title.optional(),
    description: fields.description,
    type: fields.type.optional(),
    startsAt: InputTime.optional(),
    durationMinutes: fields.durationMinutes.optional(),
    capacity: fields.capacity.optional(),
  })
  .strict();
const ListQuery = z
  .object({
    status: z.enum(['scheduled', 'live', 'ended', 'cancelled']).optional(),
    from: InputTime.optional(),
    to: InputTime.optional(),
    type: StorableText.min(1).max(50).optional(),
    trainerId: z.string().uuid().optional(),
    ...PageQuery,
  })
  .strict();
const SessionPage = pageOf(Session, 'SessionPage');

interface Parsed<B = unknown, Q = unknown> {
  params: z.infer<typeof IdParams>;
  body: B;
  query: Q;
}

const transitionDoc = (name: SessionTransition, from: string, to: string) =>
  routeDoc({
    method: 'post',
    path: `/v1/sessions/{id}/${name}`,
    summary: `${from} → ${to} (owning trainer)`,
    tags: ['sessions'],
    request: { params: IdParams },
    success: { status: 200, description: `the session, now ${to}`, schema: Session },
    errors: ['FORBIDDEN', 'NOT_FOUND', 'INVALID_STATE', 'CONFLICT'],
  });

export class SessionRoutes {
  @routeConfig(
    routeDoc({
      method: 'post',
      path: '/v1/sessions',
      summary: 'Schedule a session (trainer)',
      tags: ['sessions'],
      success: { status: 201, description: 'scheduled', schema: Session },
      errors: ['VALIDATION_FAILED', 'FORBIDDEN', 'PAYLOAD_TOO_LARGE'],
    }),
  )
  @body(CreateBody)
  async create(ctx: Context, args: Parsed<z.infer<typeof CreateBody>>) {
    const trainerId = callerWithRole(ctx, 'trainer');
    ctx.status = 201;
    ctx.body = await ctx.services.sessions.create(trainerId, args.body);
  }

  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/sessions',
      summary: 'List sessions: upcoming (scheduled and live) soonest first by default',
      tags: ['sessions'],
      request: { query: ListQuery },
      success: { status: 200, description: 'a page of sessions', schema: SessionPage },
      errors: [],
    }),
  )
  async list(ctx: Context, args: Parsed<unknown, z.infer<typeof ListQuery>>) {
    caller(ctx);
    ctx.type = 'application/json';
    ctx.body = await ctx.services.sessions.listJson(args.query);
  }

  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/sessions/{id}',
      summary: 'A session with registeredCount and the caller’s registration',
      tags: ['sessions'],
      request: { params: IdParams },
      success: { status: 200, description: 'the session', schema: SessionWithRegistration },
      errors: ['NOT_FOUND'],
    }),
  )
  async get(ctx: Context, args: Parsed) {
    ctx.body = await ctx.services.sessions.get(args.params.id, caller(ctx).userId);
  }

  @routeConfig(
    routeDoc({
      method: 'patch',
      path: '/v1/sessions/{id}',
      summary: 'Edit or reschedule (owning trainer, only while scheduled, only into the future)',
      tags: ['sessions'],
      request: { params: IdParams },
      success: { status: 200, description: 'the edited session', schema: Session },
      errors: [
        'VALIDATION_FAILED',
        'FORBIDDEN',
        'NOT_FOUND',
        'INVALID_STATE',
        'CONFLICT',
        'PAYLOAD_TOO_LARGE',
      ],
    }),
  )
  @body(EditBody)
  async edit(ctx: Context, args: Parsed<z.infer<typeof EditBody>>) {
    const trainerId = callerWithRole(ctx, 'trainer');
    if (Object.keys(args.body).length === 0) throw new ValidationFailed('nothing to change');
    ctx.body = await ctx.services.sessions.edit(args.params.id, trainerId, args.body);
  }

  @routeConfig(transitionDoc('cancel', 'scheduled', 'cancelled'))
  async cancel(ctx: Context, args: Parsed) {
    await this.apply(ctx, args, 'cancel');
  }

  @routeConfig(transitionDoc('start', 'scheduled', 'live'))
  async start(ctx: Context, args: Parsed) {
    await this.apply(ctx, args, 'start');
  }

  @routeConfig(transitionDoc('end', 'live', 'ended'))
  async end(ctx: Context, args: Parsed) {
    await this.apply(ctx, args, 'end');
  }

  private async apply(ctx: Context, args: Parsed, transition: SessionTransition) {
    const trainerId = callerWithRole(ctx, 'trainer');
    ctx.body = await ctx.services.sessions.transition(args.params.id, trainerId, transition);
  }
}
