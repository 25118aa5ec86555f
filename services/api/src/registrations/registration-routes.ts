import type { Context } from 'koa';
import { routeConfig } from 'koa-swagger-decorator';
import { callerWithRole } from '../http/authenticate.js';
import { routeDoc } from '../http/route-docs.js';
import { IdParams, Registration, SessionWithRegistration, z } from '../http/schemas.js';

const JoinResult = z
  .object({
    state: z.enum(['waiting', 'live']),
    session: SessionWithRegistration,
    gatewayUrl: z.string(),
    ticket: z
      .string()
      .openapi({ description: 'HS256 JWT (JoinTicketClaims), iss pulse-api, aud pulse-gateway' }),
  })
  .openapi('JoinResult');

interface Parsed {
  params: z.infer<typeof IdParams>;
}

export class RegistrationRoutes {
  @routeConfig(
    routeDoc({
      method: 'post',
      path: '/v1/sessions/{id}/registrations',
      summary: 'Register (trainee): registered while seats are free, else waitlisted',
      tags: ['registrations'],
      request: { params: IdParams },
      success: {
        status: 201,
        description: 'registered or waitlisted',
        schema: Registration,
        alsoOk: Registration,
      },
      errors: ['FORBIDDEN', 'NOT_FOUND', 'INVALID_STATE'],
    }),
  )
  async register(ctx: Context, args: Parsed) {
    const traineeId = callerWithRole(ctx, 'trainee');
    const { registration, created } = await ctx.services.registrations.register(args.params.id, traineeId);
    ctx.status = created ? 201 : 200;
    ctx.body = registration;
  }

  @routeConfig(
    routeDoc({
      method: 'delete',
      path: '/v1/sessions/{id}/registrations/me',
      summary: 'Unregister (trainee); the first waitlisted trainee takes the seat',
      tags: ['registrations'],
      request: { params: IdParams },
      success: { status: 204, description: 'unregistered' },
      errors: ['FORBIDDEN', 'NOT_FOUND', 'INVALID_STATE'],
    }),
  )
  async unregister(ctx: Context, args: Parsed) {
    await ctx.services.registrations.unregister(args.params.id, callerWithRole(ctx, 'trainee'));
    ctx.status = 204;
  }

  @routeConfig(
    routeDoc({
      method: 'post',
      path: '/v1/sessions/{id}/join',
      summary: 'Join (registered trainee): a gateway URL and a short-lived ticket',
      tags: ['registrations'],
      request: { params: IdParams },
      success: { status: 200, description: 'waiting room or live', schema: JoinResult },
      errors: ['FORBIDDEN', 'NOT_FOUND', 'INVALID_STATE'],
    }),
  )
  async join(ctx: Context, args: Parsed) {
    ctx.body = await ctx.services.registrations.join(args.params.id, callerWithRole(ctx, 'trainee'));
  }
}
