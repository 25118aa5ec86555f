import { ApiClient, TokenKeeper } from '../client/rest.js';
import type { PoolInterval } from '../client/load-pool.js';
import { sleep } from '../stack/ports.js';
import type { Report } from '../report/report.js';
import { openTarget, type TargetOptions } from './target.js';
import { planSoak } from './soak-plan.js';
import { SoakProbe } from './soak-probe.js';
import { playSession, type SessionOutcome, type SoakContext } from './soak-session.js';
import { buildSoakReport } from './soak-report.js';

export interface SoakOptions extends TargetOptions {
  name: string;
  command: string;
  minutes: number;
  /** Distinct trainees over the whole soak; each session gets participants / sessions new ones. */
  participants: number;
  sessions: number;
  /** Ratings per second per trainee. */
  rate: number;
  /** Resource and /metrics sampling period. */
  sampleMs?: number;
}

/** Per second of the soak, summed over the sessions playing then. */
export interface SoakTick {
  t: number;
  sent: number;
  rankFrames: number;
  connected: number;
  errorFrames: number;
}

const DEFAULT_SAMPLE_MS = 5_000;

/** Sessions start and end in turn over `minutes`; every few seconds every process is sampled. */
export async function runSoak(opts: SoakOptions): Promise<Report> {
  const log = opts.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const plan = planSoak(opts.minutes * 60_000, opts.sessions, opts.participants);
  const open = await openTarget({
    ...opts,
    env: {
      gateway: {
        RATING_RATE_PER_SEC: String(Math.max(5, opts.rate * 3)),
        RATING_BURST: String(Math.max(120, opts.rate * 10)),
      },
      'live-engine': { SCORE_ALLOWANCE_PER_SEC: String(Math.max(1.25, opts.rate * 1.25)) },
      ...opts.env,
    },
  });
  const { target } = open;
  const probe = await SoakProbe.open(
    { pids: () => open.pids(), serviceUrls: () => target.serviceUrls() },
    target.infra.natsUrl,
    target.isolation?.natsNamespace,
  );
  try {
    const api = new ApiClient(target.apiUrl);
    const trainer = await api.register('trainer', 'Soak Coach');
    const trainerTokens = new TokenKeeper(api, trainer);
    const baseline = await probe.holdings();
    const ticks = new Map<number, SoakTick>();
    const t0 = Date.now();
    const onInterval = (_session: number, i: PoolInterval) => {
      const t = Math.round((Date.now() - t0) / 1000);
      const tick = ticks.get(t) ?? { t, sent: 0, rankFrames: 0, connected: 0, errorFrames: 0 };
      tick.sent += i.sent;
      tick.rankFrames += i.rankFrames;
      tick.connected += i.connected;
      tick.errorFrames += i.errorFrames;
      ticks.set(t, tick);
    };
    const releasers = new Map<number, () => void>();
    const released = new Map<number, Promise<void>>();
    for (const slot of plan.slots) {
      released.set(slot.index, new Promise<void>((resolve) => releasers.set(slot.index, resolve)));
    }
    const ctx: SoakContext = {
      api,
      trainerToken: () => trainerTokens.accessToken(),
      gatewayUrls: target.gatewayUrls,
      probe,
      clickhouseUrl: target.infra.clickhouseUrl,
      clickhouseDb: target.isolation?.clickhouseDb,
      rate: opts.rate,
      participantsPerSession: plan.participantsPerSession,
      rampMs: Math.min(5_000, plan.strideMs / 10),
      t0,
      name: opts.name,
      baseline,
      phases: new Map(),
      released,
      onInterval,
      log,
    };
    log(
      `soak: ${opts.sessions} sessions × ${plan.participantsPerSession} trainees, one every ` +
        `${Math.round(plan.strideMs / 1000)} s, each live ${Math.round(plan.liveMs / 1000)} s, over ${opts.minutes} min`,
    );
    probe.start(t0, opts.sampleMs ?? DEFAULT_SAMPLE_MS);
    await probe.sample(true);
    const outcomes = await Promise.allSettled(
      plan.slots.map((slot) => playSession(ctx, slot, plan.liveMs, releasers.get(slot.index)!)),
    );
    await sleep(opts.sampleMs ?? DEFAULT_SAMPLE_MS);
    const final = await probe.holdings();
    await probe.sample(true);
    const sessions: SessionOutcome[] = [];
    const failures: string[] = [];
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') sessions.push(o.value);
      else failures.push(`session ${i + 1}: ${(o.reason as Error).message}`);
    });
    return buildSoakReport({
      opts,
      plan,
      startedAt,
      baseline,
      final,
      sessions,
      failures,
      samples: probe.samples,
      ticks: [...ticks.values()].sort((a, b) => a.t - b.t),
    });
  } finally {
    await probe.stop();
    await open.close();
  }
}

/**
 * Takes `--minutes <n>` (or `--minutes=<n>`) out of the arguments: only soak knows it, and the shared flag
 * parser is strict.
 */
export function takeMinutes(argv: readonly string[]): { minutes?: string; rest: string[] } {
  const rest: string[] = [];
  let minutes: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--minutes') minutes = argv[++i];
    else if (argv[i].startsWith('--minutes=')) minutes = argv[i].slice('--minutes='.length);
    else rest.push(argv[i]);
  }
  return { minutes, rest };
}
