import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { REPO_ROOT } from '../stack.js';
import type { Report, Table } from '../report/report.js';

/** The part of the engine's ranking core (services/live-engine/src/ranking/leaderboard.ts) measured here. */
interface EngineLeaderboard {
  upsert(userId: string, scoreCenti: number, reachedOrder: number): void;
  rankOf(userId: string): number;
  top(n: number): Array<{ userId: string; scoreCenti: number; rank: number }>;
  forEachInOrder(visit: (userId: string, scoreCenti: number, rank: number) => void): void;
  readonly size: number;
}
type LeaderboardClass = new () => EngineLeaderboard;

export interface LeaderboardOptions {
  name: string;
  command: string;
  sizes: number[];
  /** Ratings applied per size. */
  ratings: number;
  redisUrl: string;
  /** Ratings per Redis pipeline: what a server would batch per tick. */
  batch?: number;
  log?: (line: string) => void;
}

export interface SizeResult {
  participants: number;
  engineOpsPerSec: number;
  redisOpsPerSec: number;
  /** One pass producing everyone's rank (what a 1 Hz rank publish costs), in ms. */
  engineFullRankMs: number;
  redisFullRankMs: number;
  topAgrees: boolean;
}

const FULL_PASSES = 5;
const DEFAULT_BATCH = 1_000;

async function loadEngineLeaderboard(): Promise<LeaderboardClass> {
  const file = path.join(REPO_ROOT, 'services/live-engine/dist/src/ranking/leaderboard.js');
  const mod = (await import(pathToFileURL(file).href)) as { Leaderboard: LeaderboardClass };
  return mod.Leaderboard;
}

/** A fixed workload: (user index, energy) pairs, the same for both contenders. */
function workload(size: number, ratings: number): { users: Uint32Array; energy: Uint8Array } {
  const users = new Uint32Array(ratings);
  const energy = new Uint8Array(ratings);
  let x = 0x2545f491;
  for (let i = 0; i < ratings; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    users[i] = (x >>> 0) % size;
    energy[i] = (x >>> 8) % 101;
  }
  return { users, energy };
}

function runEngine(Board: LeaderboardClass, ids: string[], w: ReturnType<typeof workload>, batch: number) {
  const board = new Board();
  const scores = new Float64Array(ids.length);
  let order = 0;
  for (const id of ids) board.upsert(id, 0, order++);
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < w.users.length; i++) {
    const u = w.users[i];
    scores[u] += w.energy[i] * 100;
    board.upsert(ids[u], scores[u], order++);
    sink += board.rankOf(ids[u]);
    if (i % batch === batch - 1) sink += board.top(10).length;
  }
  const opsPerSec = w.users.length / ((performance.now() - t0) / 1000);
  const p0 = performance.now();
  for (let p = 0; p < FULL_PASSES; p++) board.forEachInOrder((_u, _s, rank) => (sink += rank));
  const fullMs = (performance.now() - p0) / FULL_PASSES;
  return { opsPerSec, fullMs, top: board.top(10).map((t) => t.scoreCenti / 100), sink };
}

async function runRedis(redis: Redis, ids: string[], w: ReturnType<typeof workload>, batch: number) {
  const key = `pulse:bench:leaderboard:${randomBytes(4).toString('hex')}`;
  try {
    for (let i = 0; i < ids.length; i += 10_000) {
      const args: Array<string | number> = [];
      for (const id of ids.slice(i, i + 10_000)) args.push(0, id);
      await redis.zadd(key, ...args);
    }
    const t0 = performance.now();
    for (let start = 0; start < w.users.length; start += batch) {
      const pipe = redis.pipeline();
      const end = Math.min(w.users.length, start + batch);
      for (let i = start; i < end; i++) {
        const id = ids[w.users[i]];
        pipe.zincrby(key, w.energy[i], id);
        pipe.zrevrank(key, id);
      }
      pipe.zrevrange(key, 0, 9, 'WITHSCORES');
      await pipe.exec();
    }
    const opsPerSec = w.users.length / ((performance.now() - t0) / 1000);
    const p0 = performance.now();
    let sink = 0;
    for (let p = 0; p < FULL_PASSES; p++) {
      // The cheapest way to everyone's rank with a sorted set: one full range, ranks by position.
      const all = await redis.zrevrange(key, 0, -1, 'WITHSCORES');
      const ranks = new Map<string, number>();
      for (let i = 0; i < all.length; i += 2) ranks.set(all[i], i / 2 + 1);
      sink += ranks.size;
    }
    const fullMs = (performance.now() - p0) / FULL_PASSES;
    const top = await redis.zrevrange(key, 0, 9, 'WITHSCORES');
    return { opsPerSec, fullMs, top: top.filter((_, i) => i % 2 === 1).map(Number), sink };
  } finally {
    await redis.del(key);
  }
}

/** Engine Leaderboard vs Redis sorted set on the same workload, for each size. */
export async function runLeaderboard(opts: LeaderboardOptions): Promise<Report> {
  const startedAt = new Date().toISOString();
  const Board = await loadEngineLeaderboard();
  const redis = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const batch = opts.batch ?? DEFAULT_BATCH;
  const results: SizeResult[] = [];
  try {
    for (const size of opts.sizes) {
      opts.log?.(`leaderboard: ${size} participants, ${opts.ratings} ratings`);
      const ids = Array.from(
        { length: size },
        (_, i) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      );
      const w = workload(size, opts.ratings);
      const engine = runEngine(Board, ids, w, batch);
      const red = await runRedis(redis, ids, w, batch);
      results.push({
        participants: size,
        engineOpsPerSec: Math.round(engine.opsPerSec),
        redisOpsPerSec: Math.round(red.opsPerSec),
        engineFullRankMs: Math.round(engine.fullMs * 100) / 100,
        redisFullRankMs: Math.round(red.fullMs * 100) / 100,
        topAgrees: JSON.stringify(engine.top) === JSON.stringify(red.top),
      });
    }
  } finally {
    redis.disconnect();
  }
  return leaderboardReport(opts, startedAt, batch, results);
}

function leaderboardReport(
  opts: LeaderboardOptions,
  startedAt: string,
  batch: number,
  results: SizeResult[],
): Report {
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const table: Table = {
    title: `ratings/s (update + own rank each, top 10 per ${batch}-rating batch) and one full ranking pass`,
    columns: [
      'participants',
      'engine ratings/s',
      'Redis ratings/s',
      'ratio',
      'engine full pass ms',
      'Redis full pass ms',
      'ratio',
    ],
    rows: results.map((r) => [
      r.participants,
      r.engineOpsPerSec,
      r.redisOpsPerSec,
      ratio(r.engineOpsPerSec, r.redisOpsPerSec),
      r.engineFullRankMs,
      r.redisFullRankMs,
      ratio(r.redisFullRankMs, r.engineFullRankMs),
    ]),
  };
  return {
    name: opts.name,
    mode: 'leaderboard',
    command: opts.command,
    startedAt,
    finishedAt: new Date().toISOString(),
    checks: results.map((r) => ({
      name: `same top 10 at ${r.participants} participants`,
      ok: r.topAgrees,
      detail: r.topAgrees ? 'engine and Redis agree on the top 10 scores' : 'top 10 scores differ',
    })),
    tables: [table],
    charts: [
      {
        title: 'ratings/s (higher is better)',
        type: 'bar',
        labels: results.map((r) => r.participants),
        datasets: [
          { label: 'engine Leaderboard', data: results.map((r) => r.engineOpsPerSec) },
          { label: 'Redis sorted set (pipelined)', data: results.map((r) => r.redisOpsPerSec) },
        ],
      },
      {
        title: "everyone's rank once: ms per pass (lower is better)",
        type: 'bar',
        labels: results.map((r) => r.participants),
        datasets: [
          { label: 'engine forEachInOrder', data: results.map((r) => r.engineFullRankMs) },
          { label: 'Redis ZREVRANGE 0 -1', data: results.map((r) => r.redisFullRankMs) },
        ],
      },
    ],
    data: { batch, ratings: opts.ratings, results },
  };
}
