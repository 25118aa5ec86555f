import { ClickHouseTable } from '@pulse/contracts';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Forbidden, NotFound } from '../errors.js';
import type { ClickHouseClient } from '../infra/clickhouse.js';
import { clickhouseRows } from '../results/clickhouse-rows.js';
import { sqlUuid } from '../results/sql.js';
import { WorkoutSession } from '../sessions/session.entity.js';
import { assertAllowed } from '../sessions/state-machine.js';
import { ENERGY_BUCKETS, ENERGY_BUCKET_WIDTH, energyBuckets } from './class-energy.js';
import type { EnergyBucket } from './class-energy.js';

export interface ClassMinute {
  minute: number;
  /** Mean of every reading the class sent in this minute (each participant's minute weighted by its samples). */
  avgEnergy: number;
  participants: number;
  samples: number;
}

export interface ClassEnergy {
  minutes: ClassMinute[];
  /** Participants by their average energy in the latest minute with readings (`minute` null before any). */
  distribution: { minute: number | null; bucketWidth: number; buckets: EnergyBucket[] };
}

/**
 * The class as a whole, for its trainer: the per-minute class average and how the class is spread over
 * energy right now. Read from the engine's per-participant minute rows in ClickHouse (as live results
 * are; FINAL for the newest version of each row), aggregated there so a class of 10,000 is two small answers.
 */
export class ClassEnergyService {
  constructor(
    private readonly orm: MikroORM,
    private readonly clickhouse: ClickHouseClient,
    private readonly db: string,
  ) {}

  async classEnergy(sessionId: string, trainerId: string): Promise<ClassEnergy> {
    const session = await this.orm.em.fork().findOne(WorkoutSession, sessionId);
    if (session === null) throw new NotFound('session', sessionId);
    if (session.trainerId !== trainerId)
      throw new Forbidden('only the session’s own trainer may read its class energy');
    assertAllowed(session, 'results');
    const minutesTable = `${this.db}.${ClickHouseTable.MINUTES}`;
    const sid = sqlUuid(session.id);
    // Only a validated UUID and constants are interpolated: ClickHouse 18.16 has no query parameters.
    const [minutes, spread] = await Promise.all([
      // Aliases differ from the column names: ClickHouse resolves an alias before a column of the same name.
      clickhouseRows<{ minute: number; class_avg: number; participants: string; class_samples: string }>(
        this.clickhouse,
        `SELECT minute, sum(avg_energy * samples) / sum(samples) AS class_avg, count() AS participants,
                sum(samples) AS class_samples
         FROM ${minutesTable} FINAL WHERE session_id = ${sid} AND samples > 0
         GROUP BY minute ORDER BY minute`,
      ),
      clickhouseRows<{ minute: number; bucket: number; participants: string }>(
        this.clickhouse,
        `SELECT minute, least(toUInt32(floor(avg_energy / ${ENERGY_BUCKET_WIDTH})), ${ENERGY_BUCKETS - 1}) AS bucket,
                count() AS participants
         FROM ${minutesTable} FINAL
         WHERE session_id = ${sid} AND samples > 0
           AND minute = (SELECT max(minute) FROM ${minutesTable} WHERE session_id = ${sid})
         GROUP BY minute, bucket`,
      ),
    ]);
    return {
      minutes: minutes.map((m) => ({
        minute: Number(m.minute),
        avgEnergy: Number(m.class_avg),
        participants: Number(m.participants),
        samples: Number(m.class_samples),
      })),
      distribution: {
        minute: spread.length > 0 ? Number(spread[0].minute) : null,
        bucketWidth: ENERGY_BUCKET_WIDTH,
        buckets: energyBuckets(
          spread.map((s) => ({ bucket: Number(s.bucket), participants: Number(s.participants) })),
        ),
      },
    };
  }
}
