import type { Context } from 'koa';
import { routeConfig } from 'koa-swagger-decorator';
import { caller, callerWithRole } from '../http/authenticate.js';
import { routeDoc } from '../http/route-docs.js';
import { IdParams, PageQuery, SessionSnapshot, pageOf, z } from '../http/schemas.js';
import { MAX_PAGE_LIMIT } from '../pagination.js';

const ResultsQuery = z
  .object({
    limit: PageQuery.limit,
    cursor: z
      .string()
      .regex(/^\d{1,9}$/, 'cursor is the last rank of the previous page')
      .optional()
      .openapi({ description: `the last rank of the previous page (at most ${MAX_PAGE_LIMIT} per page)` }),
  })
  .strict();
const HistoryQuery = z.object(PageQuery).strict();

const LeaderboardEntry = z
  .object({
    rank: z.number().int(),
    userId: z.string().uuid(),
    name: z.string(),
    score: z.number(),
    calories: z.number(),
  })
  .openapi('LeaderboardEntry');
const Minute = z.object({
  minute: z.number().int(),
  avgEnergy: z.number(),
  maxEnergy: z.number(),
  samples: z.number().int(),
});
const Results = z
  .object({
    session: SessionSnapshot,
    final: z.boolean(),
    leaderboard: pageOf(LeaderboardEntry, 'Leaderboard'),
    me: z
      .object({
        rank: z.number().int(),
        score: z.number(),
        calories: z.number(),
        avgEnergy: z.number(),
        minutes: z.array(Minute),
      })
      .optional(),
  })
  .openapi('SessionResults');
const HistoryEntry = z
  .object({
    session: SessionSnapshot,
    rank: z.number().int().nullable(),
    participants: z.number().int().nullable(),
    score: z.number().nullable(),
    calories: z.number().nullable(),
    avgEnergy: z.number().nullable(),
  })
  .openapi('HistoryEntry');

interface Parsed<Q> {
  params: z.infer<typeof IdParams>;
  query: Q;
}

export class ResultsRoutes {
  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/sessions/{id}/results',
      summary: 'Leaderboard (by rank) and the caller’s own numbers; current standings while live',
      tags: ['results'],
      request: { params: IdParams, query: ResultsQuery },
      success: { status: 200, description: 'results', schema: Results },
      errors: ['NOT_FOUND', 'INVALID_STATE'],
    }),
  )
  async results(ctx: Context, args: Parsed<z.infer<typeof ResultsQuery>>) {
    const afterRank = args.query.cursor === undefined ? 0 : Number(args.query.cursor);
    ctx.body = await ctx.services.results.results(args.params.id, caller(ctx).userId, {
      limit: args.query.limit,
      afterRank,
    });
  }

  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/me/history',
      summary: 'Ended sessions the trainee joined, newest first',
      tags: ['results'],
      request: { query: HistoryQuery },
      success: { status: 200, description: 'a page of history', schema: pageOf(HistoryEntry, 'HistoryPage') },
      errors: ['FORBIDDEN'],
    }),
  )
  async history(ctx: Context, args: Parsed<z.infer<typeof HistoryQuery>>) {
    ctx.body = await ctx.services.history.history(callerWithRole(ctx, 'trainee'), args.query);
  }
}
