import { createClient } from '@clickhouse/client';
import { ClickHouseTable } from '@pulse/contracts';

/**
 * A session's results computed on their own from the raw ratings ClickHouse stores, to judge the frozen
 * results the API serves. It follows the documented formulas (API-CONTRACT, the engine's README) and
 * shares no code with the engine: energy counted in hundredths, each (user, seq) once; per-minute average,
 * max and samples; calories = Σ over minutes of (1 + 11 · avg / 100) · 3.5 · weightKg / 200.
 */
export interface RawRating {
  userId: string;
  seq: number;
  energy: number;
  minute: number;
}
export interface ComputedResult {
  score: number;
  samples: number;
  avgEnergy: number;
  calories: number;
  minutes: { minute: number; avgEnergy: number; maxEnergy: number; samples: number }[];
}

export const DEFAULT_WEIGHT_KG = 70;
const round2 = (x: number) => Math.round(x * 100) / 100;

export function resultsFromRatings(
  ratings: Iterable<RawRating>,
  participants: Iterable<string> = [],
  weightKg: (userId: string) => number = () => DEFAULT_WEIGHT_KG,
): Map<string, ComputedResult> {
  const seen = new Set<string>();
  const perUser = new Map<string, Map<number, { sum: number; max: number; n: number }>>();
  for (const id of participants) perUser.set(id, new Map());
  for (const r of ratings) {
    const key = `${r.userId}/${r.seq}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let minutes = perUser.get(r.userId);
    if (minutes === undefined) perUser.set(r.userId, (minutes = new Map()));
    const centi = Math.round(r.energy * 100);
    const m = minutes.get(r.minute) ?? { sum: 0, max: 0, n: 0 };
    m.sum += centi;
    m.max = Math.max(m.max, centi);
    m.n += 1;
    minutes.set(r.minute, m);
  }
  const out = new Map<string, ComputedResult>();
  for (const [userId, minutes] of perUser) {
    const ordered = [...minutes].sort(([a], [b]) => a - b);
    let sum = 0;
    let n = 0;
    let kcal = 0;
    for (const [, m] of ordered) {
      sum += m.sum;
      n += m.n;
      kcal += ((1 + (11 * (m.sum / m.n / 100)) / 100) * 3.5 * weightKg(userId)) / 200;
    }
    out.set(userId, {
      score: sum / 100,
      samples: n,
      avgEnergy: n === 0 ? 0 : round2(sum / n / 100),
      calories: round2(kcal),
      minutes: ordered.map(([minute, m]) => ({
        minute,
        avgEnergy: round2(m.sum / m.n / 100),
        maxEnergy: m.max / 100,
        samples: m.n,
      })),
    });
  }
  return out;
}

const UUID = /^[0-9a-f-]{36}$/i;

/** Every raw rating of a session, each (user, seq) once (FINAL). Read-only. */
export async function rawRatings(clickhouseUrl: string, db: string, sessionId: string): Promise<RawRating[]> {
  if (!UUID.test(sessionId)) throw new Error('session id must be a UUID');
  const ch = createClient({ url: clickhouseUrl });
  try {
    const rs = await ch.query({
      query: `SELECT toString(user_id) AS user, seq, energy, minute FROM ${db}.${ClickHouseTable.RATINGS} FINAL
              WHERE session_id = '${sessionId}'`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ user: string; seq: number; energy: number; minute: number }>();
    return rows.map((r) => ({
      userId: r.user,
      seq: Number(r.seq),
      energy: Number(r.energy),
      minute: Number(r.minute),
    }));
  } finally {
    await ch.close();
  }
}
