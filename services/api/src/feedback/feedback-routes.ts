import type { Context } from 'koa';
import { body, routeConfig } from 'koa-swagger-decorator';
import { callerWithRole } from '../http/authenticate.js';
import { routeDoc } from '../http/route-docs.js';
import { IdParams, IsoTime, PageQuery, StorableText, Uuid, z } from '../http/schemas.js';

const FeedbackBody = z
  .object({ rating: z.number().int().min(1).max(5), comment: StorableText.max(2000).optional() })
  .strict();
const Feedback = z
  .object({
    id: Uuid,
    sessionId: Uuid,
    traineeId: Uuid,
    rating: z.number().int(),
    comment: z.string().nullable(),
    createdAt: IsoTime,
  })
  .openapi('Feedback');
const FeedbackSummary = z
  .object({
    average: z.number().nullable().openapi({ description: 'over every feedback of the session' }),
    count: z.number().int().openapi({ description: 'every feedback of the session' }),
    items: z.array(Feedback).openapi({ description: 'one page, newest first' }),
    nextCursor: z.string().nullable(),
  })
  .openapi('FeedbackSummary');
const FeedbackQuery = z.object(PageQuery).strict();

interface Parsed<B = unknown, Q = unknown> {
  params: z.infer<typeof IdParams>;
  body: B;
  query: Q;
}

export class FeedbackRoutes {
  @routeConfig(
    routeDoc({
      method: 'post',
      path: '/v1/sessions/{id}/feedback',
      summary: 'Rate an ended session you joined (trainee, once)',
      tags: ['feedback'],
      request: { params: IdParams },
      success: { status: 201, description: 'feedback stored', schema: Feedback },
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
  @body(FeedbackBody)
  async give(ctx: Context, args: Parsed<z.infer<typeof FeedbackBody>>) {
    const traineeId = callerWithRole(ctx, 'trainee');
    ctx.status = 201;
    ctx.body = await ctx.services.feedback.give(args.params.id, traineeId, args.body);
  }

  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/sessions/{id}/feedback',
      summary: 'Feedback of a session (owning trainer): average and count of all, a page of items',
      tags: ['feedback'],
      request: { params: IdParams, query: FeedbackQuery },
      success: {
        status: 200,
        description: 'average, count, a page of items (newest first) and nextCursor',
        schema: FeedbackSummary,
      },
      errors: ['FORBIDDEN', 'NOT_FOUND'],
    }),
  )
  async summary(ctx: Context, args: Parsed<unknown, z.infer<typeof FeedbackQuery>>) {
    const trainerId = callerWithRole(ctx, 'trainer');
    ctx.body = await ctx.services.feedback.summary(args.params.id, trainerId, args.query);
  }
}
