import type { Context } from 'koa';
import { body, routeConfig } from 'koa-swagger-decorator';
import { callerWithRole } from '../http/authenticate.js';
import { routeDoc } from '../http/route-docs.js';
import { IdParams, IsoTime, Uuid, z } from '../http/schemas.js';

const FeedbackBody = z
  .object({ rating: z.number().int().min(1).max(5), comment: z.string().max(2000).optional() })
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
  .object({ average: z.number().nullable(), count: z.number().int(), items: z.array(Feedback) })
  .openapi('FeedbackSummary');

interface Parsed<B = unknown> {
  params: z.infer<typeof IdParams>;
  body: B;
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
      summary: 'Feedback of a session (owning trainer)',
      tags: ['feedback'],
      request: { params: IdParams },
      success: { status: 200, description: 'average, count and items', schema: FeedbackSummary },
      errors: ['FORBIDDEN', 'NOT_FOUND'],
    }),
  )
  async summary(ctx: Context, args: Parsed) {
    ctx.body = await ctx.services.feedback.summary(args.params.id, callerWithRole(ctx, 'trainer'));
  }
}
