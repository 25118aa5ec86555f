/**
 * The soak schedule and the arithmetic of its verdicts (pure: no I/O, unit-tested).
 *
 * Sessions start one after another every `stride` and each stays live for `OVERLAP × stride`, so session k+1
 * is already live for the last (OVERLAP − 1) of session k: there is always a handover, never an empty stack,
 * and the last session ends at `minutes`. Session k's trainees are registered, joined and connected during
 * the `prepLead` before its start.
 */
export const OVERLAP = 1.2;

export interface SessionSlot {
  /** 1-based. */
  index: number;
  /** Milliseconds from the start of the soak. */
  prepAtMs: number;
  startAtMs: number;
  endAtMs: number;
}

export interface SoakPlan {
  strideMs: number;
  liveMs: number;
  prepLeadMs: number;
  participantsPerSession: number;
  slots: SessionSlot[];
}

/** Prep starts at most this long before a session's start (register + join + connect). */
const MAX_PREP_LEAD_MS = 30_000;

export function planSoak(totalMs: number, sessions: number, participants: number): SoakPlan {
  if (sessions < 1) throw new Error('a soak needs at least one session');
  if (participants < sessions) throw new Error('--participants must be at least --sessions');
  const strideMs = totalMs / (sessions - 1 + OVERLAP);
  const liveMs = strideMs * OVERLAP;
  const prepLeadMs = Math.min(MAX_PREP_LEAD_MS, strideMs * 0.4);
  const slots = Array.from({ length: sessions }, (_, i) => {
    const startAtMs = prepLeadMs + i * strideMs;
    return { index: i + 1, prepAtMs: startAtMs - prepLeadMs, startAtMs, endAtMs: startAtMs + liveMs };
  });
  return {
    strideMs,
    liveMs,
    prepLeadMs,
    participantsPerSession: Math.floor(participants / sessions),
    slots,
  };
}

/** Least-squares line through (x, y); slope is in y units per x unit. */
export function linearFit(points: ReadonlyArray<[number, number]>): { slope: number; intercept: number } {
  const n = points.length;
  if (n < 2) return { slope: 0, intercept: n === 1 ? points[0][1] : 0 };
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** The parts of one service's `/metrics` the soak follows. */
export interface ServiceGauges {
  lagMs?: number;
  lagP99Ms?: number;
  heapMb?: number;
  openConnections?: number;
  localSessions?: number;
  liveActors?: number;
  ownedPartitions?: number;
}

const FOLLOWED: Record<string, [keyof ServiceGauges, number]> = {
  nodejs_eventloop_lag_seconds: ['lagMs', 1000],
  nodejs_eventloop_lag_p99_seconds: ['lagP99Ms', 1000],
  nodejs_heap_size_used_bytes: ['heapMb', 1 / 1048576],
  pulse_gateway_open_connections: ['openConnections', 1],
  pulse_gateway_local_sessions: ['localSessions', 1],
  pulse_engine_live_actors: ['liveActors', 1],
  pulse_engine_owned_partitions: ['ownedPartitions', 1],
};

/** Prometheus text → the followed gauges (series of one name are summed over their labels). */
export function parseGauges(text: string): ServiceGauges {
  const out: ServiceGauges = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    const followed = name === undefined ? undefined : FOLLOWED[name];
    if (!followed) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    const [key, factor] = followed;
    out[key] = Math.round(((out[key] ?? 0) + value * factor) * 1000) / 1000;
  }
  return out;
}
