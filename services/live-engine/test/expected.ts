import type { RatingMessage } from '@pulse/contracts';

/** What the test expects for one participant, computed from what was sent, with a plain sort. */
export interface ExpectedStanding {
  userId: string;
  name: string;
  rank: number;
  score: number;
  samples: number;
  lastSeq: number;
  calories: number;
  minutes: Map<number, { sum: number; max: number; samples: number }>;
}

export type Sent =
  { kind: 'join'; userId: string; name: string; weightKg: number } | { kind: 'rating'; r: RatingMessage };

/**
 * Independent model: replays what was sent in publish order; a seq counts once (the first time it is sent);
 * ties go to who reached the score first (a join or a scoring rating takes the next order number).
 */
export function expectedStandings(sent: Sent[], startedAtMs: number, minuteMs: number): ExpectedStanding[] {
  const users = new Map<string, ExpectedStanding & { order: number; weightKg: number; seqs: Set<number> }>();
  let order = 0;
  const user = (userId: string) => {
    let u = users.get(userId);
    if (!u) {
      u = {
        userId,
        name: '',
        rank: 0,
        score: 0,
        samples: 0,
        lastSeq: 0,
        calories: 0,
        minutes: new Map(),
        order: ++order,
        weightKg: 70,
        seqs: new Set(),
      };
      users.set(userId, u);
    }
    return u;
  };
  for (const s of sent) {
    if (s.kind === 'join') {
      const u = user(s.userId);
      u.name = s.name;
      u.weightKg = s.weightKg;
      continue;
    }
    const u = user(s.r.userId);
    if (u.seqs.has(s.r.seq)) continue;
    u.seqs.add(s.r.seq);
    const centi = Math.round(s.r.energy * 100);
    u.score += centi;
    u.samples++;
    u.lastSeq = Math.max(u.lastSeq, s.r.seq);
    if (centi !== 0) u.order = ++order;
    const minute = Math.max(0, Math.floor((s.r.ts - startedAtMs) / minuteMs));
    const b = u.minutes.get(minute) ?? { sum: 0, max: 0, samples: 0 };
    b.sum += centi;
    b.max = Math.max(b.max, centi);
    b.samples++;
    u.minutes.set(minute, b);
  }
  const sorted = [...users.values()].sort((a, b) => b.score - a.score || a.order - b.order);
  return sorted.map((u, i) => {
    let kcal = 0;
    for (const m of [...u.minutes.keys()].sort((a, b) => a - b)) {
      const b = u.minutes.get(m)!;
      const avg = b.sum / b.samples / 100;
      kcal += ((1 + (11 * avg) / 100) * 3.5 * u.weightKg) / 200;
    }
    return { ...u, rank: i + 1, score: u.score / 100, calories: Math.round(kcal * 100) / 100 };
  });
}
