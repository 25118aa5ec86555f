import type { Context } from 'koa';
import { routeConfig } from 'koa-swagger-decorator';
import { caller, callerWithRole } from '../http/authenticate.js';
import { ifNoneMatchHits } from '../http/conditional.js';
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
const ConditionalHeaders = z.object({
  'if-none-match': z
    .string()
    .optional()
    .openapi({ description: 'the ETag of a copy the client holds: 304 when it is current' }),
});
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
const MyBand = z
  .object({
    id: z.string().openapi({ description: 'the age band (contracts AGE_BANDS)' }),
    rank: z.number().int(),
    participants: z.number().int(),
  })
  .nullable()
  .openapi('MyBand', {
    description:
      'Issue 16: the place on the age band’s board of the class (only those who opted in at join), null when ' +
      'the trainee was on none.',
  });
const MyFollowing = z
  .object({ rank: z.number().int(), participants: z.number().int() })
  .nullable()
  .openapi('MyFollowing', {
    description:
      'Issue 16: the place among the trainee and the people they followed when the results froze (moments after ' +
      'the end) who were in the class; null when none of them was. Frozen with the results: a later follow ' +
      'does not change it.',
  });
const PersonalBest = z.boolean().openapi({
  description:
    'Issue 16: the score beat every earlier class of the same type whose results froze before (a first class of ' +
    'a type is a personal best).',
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
        band: MyBand.optional(),
        following: MyFollowing.optional(),
        personalBest: PersonalBest.optional(),
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
    band: MyBand,
    following: MyFollowing,
    personalBest: PersonalBest,
  })
  .openapi('HistoryEntry');

interface Parsed<Q> {
  params: z.infer<typeof IdParams>;
  query: Q;
}

/** Frozen results never change: any cache may keep them for a year and need not revalidate. */
export const FROZEN_CACHE_CONTROL = 'private, max-age=31536000, immutable';

export class ResultsRoutes {
  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/sessions/{id}/results',
      summary: 'Leaderboard (by rank) and the caller’s own numbers; current standings while live',
      description: [
        'Ended sessions: the frozen results, with a strong `ETag` per caller and page and',
        `\`Cache-Control: ${FROZEN_CACHE_CONTROL}\`, \`Vary: Authorization\` (the body holds the caller’s own`,
        '`me`); `If-None-Match` with that ETag answers 304 without a body. Until the results are frozen',
        '(moments after the end) a request is held up to about a second for the freeze; if it has not come,',
        'the answer is 202 `RESULTS_PENDING` with `Retry-After` (seconds), never a partial board. Live',
        'sessions: the current standings, `Cache-Control: no-store`.',
      ].join(' '),
      tags: ['results'],
      request: { params: IdParams, query: ResultsQuery, headers: ConditionalHeaders },
      success: { status: 200, description: 'results', schema: Results },
      errors: ['NOT_FOUND', 'INVALID_STATE', 'RESULTS_PENDING'],
      notModified: 'the caller’s copy (If-None-Match) is current; frozen results only',
      headers: {
        200: {
          ETag: 'frozen results only: strong validator of this caller’s view of this page',
          'Cache-Control': `\`${FROZEN_CACHE_CONTROL}\` when frozen, \`no-store\` while live`,
          Vary: 'Authorization',
        },
        202: {
          'Retry-After': { description: 'seconds to wait before asking again', required: true },
          'Cache-Control': 'no-store',
        },
      },
    }),
  )
  async results(ctx: Context, args: Parsed<z.infer<typeof ResultsQuery>>) {
    const afterRank = args.query.cursor === undefined ? 0 : Number(args.query.cursor);
    ctx.set('cache-control', 'no-store');
    const answer = await ctx.services.results.results(args.params.id, caller(ctx).userId, {
      limit: args.query.limit,
      afterRank,
    });
    if (answer.etag !== undefined) {
      ctx.set('cache-control', FROZEN_CACHE_CONTROL);
      ctx.set('vary', 'Authorization');
      ctx.set('etag', answer.etag);
      if (ifNoneMatchHits(ctx.get('if-none-match'), answer.etag)) {
        ctx.status = 304;
        return;
      }
    }
    ctx.type = 'application/json';
    ctx.body = await answer.json();
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
