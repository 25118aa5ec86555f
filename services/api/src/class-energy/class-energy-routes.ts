import type { Context } from 'koa';
import { routeConfig } from 'koa-swagger-decorator';
import { callerWithRole } from '../http/authenticate.js';
import { routeDoc } from '../http/route-docs.js';
import { IdParams, z } from '../http/schemas.js';

const ClassMinute = z
  .object({
    minute: z.number().int().openapi({ description: 'minutes since the start, from 0' }),
    avgEnergy: z.number().openapi({ description: 'mean of every reading of the class in this minute' }),
    participants: z.number().int().openapi({ description: 'participants with a reading in this minute' }),
    samples: z.number().int(),
  })
  .openapi('ClassMinute');
const EnergyBucket = z
  .object({
    from: z.number().openapi({ description: 'inclusive' }),
    to: z.number().openapi({ description: 'exclusive, except 100 in the last bucket' }),
    participants: z.number().int(),
  })
  .openapi('EnergyBucket');
const ClassEnergy = z
  .object({
    minutes: z.array(ClassMinute),
    distribution: z.object({
      minute: z
        .number()
        .int()
        .nullable()
        .openapi({ description: 'the latest minute with readings; null before the first' }),
      bucketWidth: z.number(),
      buckets: z.array(EnergyBucket).openapi({ description: 'ten buckets over 0..100, in order' }),
    }),
  })
  .openapi('ClassEnergy');

export class ClassEnergyRoutes {
  @routeConfig(
    routeDoc({
      method: 'get',
      path: '/v1/sessions/{id}/class-energy',
      summary: 'The class’s energy (owning trainer): per-minute class average and the current distribution',
      description: [
        'While live, what the engine last flushed (seconds behind the ratings); after the end, the whole class.',
        'The distribution counts participants by their average energy in the latest minute with readings.',
        '`Cache-Control: no-store`.',
      ].join(' '),
      tags: ['results'],
      request: { params: IdParams },
      success: {
        status: 200,
        description: 'per-minute class average and energy distribution',
        schema: ClassEnergy,
      },
      errors: ['FORBIDDEN', 'NOT_FOUND', 'INVALID_STATE'],
    }),
  )
  async classEnergy(ctx: Context, args: { params: z.infer<typeof IdParams> }) {
    const trainerId = callerWithRole(ctx, 'trainer');
    ctx.set('cache-control', 'no-store');
    ctx.body = await ctx.services.classEnergy.classEnergy(args.params.id, trainerId);
  }
}
