import type { Context } from 'koa';
import { routeConfig } from 'koa-swagger-decorator';
import { caller, callerWithRole } from '../http/authenticate.js';
import { routeDoc } from '../http/route-docs.js';
import { IdParams, IsoTime, PageQuery, Uuid, z } from '../http/schemas.js';

const FollowEntry = z
  .object({
    userId: Uuid,
    name: z.string(),
    since: IsoTime.openapi({ description: 'when the follow began' }),
  })
  .openapi('FollowEntry');
const FollowPage = z
  .object({
    items: z.array(FollowEntry).openapi({ description: 'newest first' }),
    nextCursor: z.string().nullable(),
  })
  .openapi('FollowPage');
const FollowQuery = z.object(PageQuery).strict();

interface Parsed<Q = unknown> {
  params: z.infer<typeof IdParams>;
  query: Q;
}

/** Following other trainees (issue 16): the graph the personal live boards rank. */
export class SocialRoutes {
  @routeConfig(
    routeDoc({
      method: 'put',
      path: '/v1/users/{id}/follow',
      summary: 'Follow a trainee (trainee; again is a no-op)',
      tags: ['social'],
      request: { params: IdParams },
      success: { status: 204, description: 'following' },
      errors: ['VALIDATION_FAILED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT'],
    }),
  )
  async follow(ctx: Context, args: Parsed) {
    await ctx.services.social.follow(callerWithRole(ctx, 'trainee'), args.params.id);
    ctx.status = 204;
  }

  @routeConfig(
    routeDoc({
      method: 'delete',
      path: '/v1/users/{id}/follow',
      summary: 'Stop following a trainee (trainee; not following is a no-op)',
      tags: ['social'],
      request: { params: IdParams },
      success: { status: 204, description: 'not following' },
      errors: ['VALIDATION_FAILED', 'FORBIDDEN', 'NOT_FOUND'],
    }),
  )
  async unfollow(ctx: Context, args: Parsed) {
    await ctx.services.social.unfollow(callerWithRole(ctx, 'trainee'), args.params.id);
    ctx.status = 204;
  }

  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/me/following',
      summary: 'The trainees the caller follows, newest first',
      tags: ['social'],
      request: { query: FollowQuery },
      success: { status: 200, description: 'one page', schema: FollowPage },
      errors: ['VALIDATION_FAILED'],
    }),
  )
  async following(ctx: Context, args: Parsed<z.infer<typeof FollowQuery>>) {
    ctx.body = await ctx.services.social.list(caller(ctx).userId, 'following', args.query);
  }

  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/me/followers',
      summary: 'The trainees who follow the caller, newest first',
      tags: ['social'],
      request: { query: FollowQuery },
      success: { status: 200, description: 'one page', schema: FollowPage },
      errors: ['VALIDATION_FAILED'],
    }),
  )
  async followers(ctx: Context, args: Parsed<z.infer<typeof FollowQuery>>) {
    ctx.body = await ctx.services.social.list(caller(ctx).userId, 'followers', args.query);
  }
}
