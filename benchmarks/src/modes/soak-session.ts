import type { ApiClient } from '../client/rest.js';
import { registerAndJoin, registerTrainees, type Account } from '../client/rest.js';
import { workerClients } from '../client/load-client.js';
import { LoadPool, type PoolInterval } from '../client/load-pool.js';
import type { ClientSpec, ClientSummary } from '../client/protocol.js';
import { storedRatings } from '../metrics/stored-ratings.js';
import { sleep } from '../stack/ports.js';
import type { SessionSlot } from './soak-plan.js';
import type { Holdings, SoakProbe, SoakSample } from './soak-probe.js';

type PhaseState = 'none' | 'changing' | 'held';
/** What one session holds in the services right now; `changing` while that is in flux. */
export interface Phase {
  gateway: PhaseState;
  engine: PhaseState;
  gatewaysUsed: number;
  clients: number;
}

export interface SoakContext {
  api: ApiClient;
  /** The trainer's current access token (refreshed during long runs). */
  trainerToken: () => Promise<string>;
  gatewayUrls: readonly string[];
  probe: SoakProbe;
  clickhouseUrl: string;
  clickhouseDb?: string;
  rate: number;
  participantsPerSession: number;
  rampMs: number;
  /** Wall-clock start of the soak (ms). */
  t0: number;
  name: string;
  baseline: Holdings;
  phases: Map<number, Phase>;
  /** Resolves when session i's release check is over (pass or fail). */
  released: Map<number, Promise<void>>;
  onInterval: (session: number, i: PoolInterval) => void;
  log: (line: string) => void;
}

export interface ReleaseCheck {
  ok: boolean;
  /** From the `end` call until every gauge was back where it belongs. */
  seconds: number;
  observed: Holdings;
  expected: Holdings;
}

export interface SessionOutcome {
  index: number;
  sessionId: string;
  clients: number;
  connected: number;
  notLive: number;
  startedAtS: number;
  endedAtS: number;
  /** How late the start was against the plan (registration/connect took longer than the lead). */
  startLateS: number;
  unsettled: number;
  sent: number;
  refusals: number;
  rankMismatches: number;
  violations: string[];
  stored?: number;
  storedUnique?: number;
  storedMismatches?: number;
  results: { ok: boolean; detail: string };
  release: ReleaseCheck;
  /** Every process right after the release check. */
  after: SoakSample;
}

const REGISTER_CONCURRENCY = 16;
const SETTLE_TIMEOUT_MS = 20_000;
const CLOSED_TIMEOUT_MS = 15_000;
const RELEASE_TIMEOUT_MS = 60_000;
const STORED_TIMEOUT_MS = 60_000;
const RESULTS_TIMEOUT_MS = 60_000;

const sinceT0 = (ctx: SoakContext) => Math.round((Date.now() - ctx.t0) / 100) / 10;
const sleepUntil = (ctx: SoakContext, atMs: number) => sleep(Math.max(0, ctx.t0 + atMs - Date.now()));

/** One session of the soak, from registering its trainees to checking its results. */
export async function playSession(
  ctx: SoakContext,
  slot: SessionSlot,
  liveMs: number,
  release: () => void,
): Promise<SessionOutcome> {
  const k = slot.index;
  const phase: Phase = { gateway: 'none', engine: 'none', gatewaysUsed: 0, clients: 0 };
  let pool: LoadPool | undefined;
  try {
    await sleepUntil(ctx, slot.prepAtMs);
    // Session k-2 must have been checked before k touches the services: then at most one other session
    // is in the stack when a release is checked, and the counts it expects are exact.
    await ctx.released.get(k - 2);
    const accounts = await registerTrainees(
      ctx.api,
      ctx.participantsPerSession,
      REGISTER_CONCURRENCY,
      `Soak${k}`,
    );
    ctx.phases.set(k, phase);
    phase.engine = 'changing';
    const session = await ctx.api.createSession(await ctx.trainerToken(), {
      title: `${ctx.name} #${k}`,
      capacity: ctx.participantsPerSession + 10,
    });
    const joins = await registerAndJoin(ctx.api, session.id, accounts, REGISTER_CONCURRENCY);
    const clients: ClientSpec[] = joins.map((j, i) => ({
      userId: accounts[i].user.id,
      url: ctx.gatewayUrls.length > 0 ? ctx.gatewayUrls[i % ctx.gatewayUrls.length] : j.gatewayUrl,
      ticket: j.ticket,
    }));
    phase.clients = clients.length;
    phase.gatewaysUsed = new Set(clients.map((c) => c.url)).size;
    let connectedNow = 0;
    let rankFramesSeen = false;
    pool = new LoadPool(workerClients(1, 'sdk'), (i) => {
      connectedNow = i.connected;
      if (i.rankFrames > 0 && !rankFramesSeen) {
        rankFramesSeen = true;
        if (phase.engine === 'changing') phase.engine = 'held';
      }
      ctx.onInterval(k, i);
    });
    phase.gateway = 'changing';
    const connected = await pool.connect(clients, ctx.rampMs);
    phase.gateway = 'held';
    if (connected.failed.length > 0) ctx.log(`session ${k}: ${connected.failed.length} failed to connect`);
    await sleepUntil(ctx, slot.startAtMs);
    const startedAtS = sinceT0(ctx);
    await ctx.api.lifecycle(await ctx.trainerToken(), session.id, 'start');
    const liveness = await pool.play(ctx.rate, 0);
    ctx.log(`session ${k} live at ${startedAtS}s: ${connected.ok}/${clients.length} clients`);
    await sleep(Math.max(0, ctx.t0 + startedAtS * 1000 + liveMs - Date.now()));
    await pool.stop();
    const settled = await pool.settle(SETTLE_TIMEOUT_MS);
    const summaries = await pool.summary();
    phase.gateway = 'changing';
    phase.engine = 'changing';
    const endCalled = Date.now();
    const endedAtS = sinceT0(ctx);
    await ctx.api.lifecycle(await ctx.trainerToken(), session.id, 'end');
    // The gateway answers `ended` and closes every socket (4410); the pool closes what is left after that.
    const closedBy = Date.now() + CLOSED_TIMEOUT_MS;
    while (connectedNow > 0 && Date.now() < closedBy) await sleep(250);
    await pool.close();
    pool = undefined;
    await ctx.released.get(k - 1);
    const releaseCheck = await waitReleased(ctx, k, endCalled);
    phase.gateway = 'none';
    phase.engine = 'none';
    ctx.phases.delete(k);
    const after = await ctx.probe.sample(false);
    ctx.log(
      `session ${k} ended at ${endedAtS}s; released ${releaseCheck.ok ? 'yes' : 'NO'} after ${releaseCheck.seconds}s`,
    );
    release();
    const stored = await checkStored(ctx, session.id, summaries);
    const results = await checkResults(ctx, session.id, accounts[0], summaries);
    return {
      index: k,
      sessionId: session.id,
      clients: clients.length,
      connected: connected.ok,
      notLive: liveness.notLive,
      startedAtS,
      endedAtS,
      startLateS: Math.max(0, Math.round((startedAtS - slot.startAtMs / 1000) * 10) / 10),
      unsettled: settled.unsettled,
      sent: summaries.reduce((n, s) => n + s.sent, 0),
      refusals: summaries.reduce((n, s) => n + s.refusals, 0),
      rankMismatches: summaries.filter((s) => s.lastRankScore !== s.expectedScore).length,
      violations: summaries.flatMap((s) => s.protocolViolations).slice(0, 5),
      ...stored,
      results,
      release: releaseCheck,
      after,
    };
  } finally {
    ctx.phases.delete(k);
    release();
    await pool?.close();
  }
}

/** What the gauges must read when session k is gone: the baseline plus the sessions still held. */
function expectedWithout(ctx: SoakContext, k: number): Holdings | undefined {
  const e = { ...ctx.baseline };
  for (const [i, p] of ctx.phases) {
    if (i === k) continue;
    if (p.gateway === 'changing' || p.engine === 'changing') return undefined;
    if (p.gateway === 'held') {
      e.localSessions += p.gatewaysUsed;
      e.openConnections += p.clients;
    }
    // Owned partitions and their durable consumers do not change per session (issue 12): only the actor.
    if (p.engine === 'held') e.liveActors += 1;
  }
  return e;
}

const same = (a: Holdings, b: Holdings) =>
  (Object.keys(a) as Array<keyof Holdings>).every((key) => a[key] === b[key]);

async function waitReleased(ctx: SoakContext, k: number, since: number): Promise<ReleaseCheck> {
  const deadline = Date.now() + RELEASE_TIMEOUT_MS;
  let observed: Holdings | undefined;
  let expected: Holdings | undefined;
  for (;;) {
    const before = expectedWithout(ctx, k);
    if (before) {
      const now = await ctx.probe.holdings().catch(() => undefined);
      const after = expectedWithout(ctx, k);
      if (now && after && same(before, after)) {
        observed = now;
        expected = after;
        if (same(now, after)) break;
      }
    }
    if (Date.now() > deadline) break;
    await sleep(250);
  }
  const seconds = Math.round((Date.now() - since) / 100) / 10;
  const ok = observed !== undefined && expected !== undefined && same(observed, expected);
  const empty = {
    localSessions: -1,
    openConnections: -1,
    liveActors: -1,
    ownedPartitions: -1,
    consumers: -1,
  };
  return { ok, seconds, observed: observed ?? empty, expected: expected ?? empty };
}

async function checkStored(ctx: SoakContext, sessionId: string, summaries: ClientSummary[]) {
  if (!ctx.clickhouseDb) return {};
  const expected = summaries.reduce((n, s) => n + s.sent, 0);
  const deadline = Date.now() + STORED_TIMEOUT_MS;
  let last = await storedRatings(ctx.clickhouseUrl, ctx.clickhouseDb, [sessionId]);
  while (last.stored < expected && Date.now() < deadline) {
    await sleep(500);
    last = await storedRatings(ctx.clickhouseUrl, ctx.clickhouseDb, [sessionId]);
  }
  const mismatches = summaries.filter((s) => {
    const u = last.perUser.get(s.userId) ?? { count: 0, energy: 0 };
    return u.count !== s.sent || u.energy !== s.expectedScore;
  });
  return { stored: last.stored, storedUnique: last.unique, storedMismatches: mismatches.length };
}

/** The session's results page (every leaderboard page) against what each trainee sent. */
async function checkResults(
  ctx: SoakContext,
  sessionId: string,
  reader: Account,
  summaries: ClientSummary[],
): Promise<{ ok: boolean; detail: string }> {
  const deadline = Date.now() + RESULTS_TIMEOUT_MS;
  let detail = 'no answer';
  for (;;) {
    try {
      const { items } = await ctx.api.allResults(reader.accessToken, sessionId);
      const scores = new Map(items.map((i) => [i.userId, i.score]));
      const wrong = summaries.filter((s) => s.sent > 0 && scores.get(s.userId) !== s.expectedScore);
      detail =
        wrong.length === 0
          ? `${items.length} on the leaderboard, every score exact`
          : `${wrong.length} scores differ, e.g. ${wrong[0].userId}: sent ${wrong[0].expectedScore}, results ${scores.get(wrong[0].userId)}`;
      if (wrong.length === 0) return { ok: true, detail };
    } catch (err) {
      detail = (err as Error).message;
    }
    if (Date.now() > deadline) return { ok: false, detail };
    await sleep(1_000);
  }
}
