import {
  ApiClient,
  ApiError,
  type Account,
  mapLimit,
  registerAndJoin,
  registerTrainees,
  type Session,
} from '../client/rest.js';
import { LoadPool, type PoolInterval } from '../client/load-pool.js';
import { seedFollows, seedJoins, seedTrainees, seededBand } from '../client/seed.js';
import { STACK_ACCESS_SECRET, STACK_JOIN_TICKET_SECRET } from '../stack.js';
import type { ClientSpec, ClientSummary } from '../client/protocol.js';
import { LatencyRecorder, START_SECONDS } from '../metrics/latency.js';
import { ResourceSampler } from '../metrics/resources.js';
import { HarnessCostMeter, ServerCostMeter, clientCosts } from '../metrics/cpu-time.js';
import {
  defaultWorkerCount,
  workerClients,
  type ClientChoice,
  type WorkerClient,
} from '../client/load-client.js';
import { ConsumerLagProbe } from '../metrics/consumer-lag.js';
import { storedRatings, type StoredRatings } from '../metrics/stored-ratings.js';
import { sleep, waitFor } from '../stack/ports.js';
import { scrapeServiceMetrics } from '../metrics/service-metrics.js';
import { openTarget, type TargetOptions } from './target.js';
import { Progress } from './progress.js';
import { buildLiveReport, type LiveRun, type TimelinePoint } from './live-report.js';
import type { Report } from '../report/report.js';
import {
  STAMPEDE_DEFAULTS,
  deferred,
  runStampede,
  stampedeSection,
  type StampedeOptions,
} from './stampede.js';

export interface LiveOptions extends TargetOptions {
  name: string;
  command: string;
  /** Participants per session. */
  participants: number;
  sessions: number;
  /** Ratings per second per participant. */
  rate: number;
  durationSec: number;
  rampMs: number;
  workers?: number;
  /** Every n-th rating also resends the previous seq (must count once); 0 = never. */
  resendEvery: number;
  /** Every session's start request at once (classes on the hour) instead of 8 at a time. */
  topOfHour?: boolean;
  progress: boolean;
  /** After the end, every participant asks for its own results at once (issue 13). */
  stampede?: StampedeOptions;
  /**
   * End the sessions this many seconds after the last rating was sent, without waiting for the ratings to
   * be ranked (issue 14: the end under load). Each device then expects exactly the seqs up to the `ended`
   * frame's `lastSeq` in its results, and every participant's results are checked (the stampede).
   */
  endAfterSec?: number;
  /**
   * Personal boards on (issue 16, local stack): every trainee is on an age-band board and follows this many
   * others of its session, so every rank frame carries `band` and `following`. Undefined: off.
   */
  filters?: { follows: number };
  /**
   * The client the devices run: the SDK (default), the bare hand-written baseline, the harness before the SDK,
   * or a pair of them, half the devices each in their own workers, with each side's worker CPU per
   * participant-second and their ratio reported (issue 15).
   */
  client?: ClientChoice;
}

const SETTLE_TIMEOUT_MS = 20_000;
/** How long, after the end, every device may wait for its `ended` frame (the gateways drain first). */
const ENDED_TIMEOUT_MS = 60_000;
/** After the sessions ended, how long the summary waits for the devices' sockets to close. */
const CLOSE_WAIT_MS = 10_000;
const STORED_TIMEOUT_MS = 60_000;
const REGISTER_CONCURRENCY = 32;
const STATS_FLUSH_MS = 1_100;
const START_ATTEMPTS = 10;
const START_RETRY_MS = 250;

/** Creates the sessions and trainees, joins everyone, plays ratings and measures; returns the report. */
export async function runLive(opts: LiveOptions): Promise<Report> {
  const log = opts.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const gatewayRate = String(Math.max(5, opts.rate * 3));
  const open = await openTarget({
    ...opts,
    env: {
      ...opts.env,
      gateway: {
        RATING_RATE_PER_SEC: gatewayRate,
        RATING_BURST: String(Math.max(120, opts.rate * 10)),
        // Every simulated device connects from this machine's one address; the gateway's per-address cap
        // (issue 11) is for the internet, not for a load generator.
        MAX_SOCKETS_PER_ADDRESS: String(opts.participants * opts.sessions + 100),
        ...opts.env?.gateway,
      },
      // The engine's score allowance follows the device rate the harness plays (1.25 x, as by default).
      'live-engine': {
        SCORE_ALLOWANCE_PER_SEC: String(Math.max(1.25, opts.rate * 1.25)),
        ...opts.env?.['live-engine'],
      },
    },
  });
  const { target } = open;
  const progress = new Progress(opts.progress);
  const recorder = new LatencyRecorder();
  const timeline: TimelinePoint[] = [];
  const sampler = new ResourceSampler(() => open.pids());
  const cost = new ServerCostMeter(() => open.pids());
  const ownCost = new HarnessCostMeter();
  const lagProbe = target.isolation
    ? await ConsumerLagProbe.open(target.infra.natsUrl, target.isolation.natsNamespace)
    : undefined;
  let pool: LoadPool | undefined;
  try {
    const api = new ApiClient(target.apiUrl);
    const total = opts.participants * opts.sessions;
    log(`registering a trainer, ${opts.sessions} session(s) and ${total} trainees`);
    const trainer = await api.register('trainer', 'Bench Coach');
    const sessions: Session[] = await mapLimit(Array.from({ length: opts.sessions }), 8, (_, i) =>
      api.createSession(trainer.accessToken, {
        title: `${opts.name} #${i + 1}`,
        capacity: opts.participants + 10,
      }),
    );
    const setupStart = Date.now();
    // A local stack: trainees are seeded into its PostgreSQL (argon2 for 10k accounts takes minutes);
    // a deployment: registered over REST.
    const seed = open.local && {
      databaseUrl: open.local.infra.databaseUrl,
      databaseSchema: open.local.isolation.databaseSchema,
      accessSecret: STACK_ACCESS_SECRET,
      joinSecret: STACK_JOIN_TICKET_SECRET,
    };
    const accounts = seed
      ? await seedTrainees(api, seed, total, 'Bench')
      : await registerTrainees(api, total, REGISTER_CONCURRENCY, 'Bench');
    const clients: ClientSpec[] = [];
    const seats: Array<{ userId: string; token: string; sessionId: string }> = [];
    if (opts.filters && !(seed && open.local))
      throw new Error('--filters needs a local stack (seeded trainees)');
    const members: Account[][] = [];
    for (let s = 0; s < sessions.length; s++) {
      const mine = accounts.filter((_, i) => i % sessions.length === s);
      members.push(mine);
      // The first trainee of each session registers and joins over REST (the API path stays exercised);
      // on a local stack the rest are registered in bulk with tickets signed as the API signs them.
      const joins = seed
        ? [
            ...(await registerAndJoin(api, sessions[s].id, mine.slice(0, 1), 1)),
            ...(await seedJoins(seed, sessions[s], mine.slice(1), opts.filters ? seededBand : undefined)),
          ]
        : await registerAndJoin(api, sessions[s].id, mine, REGISTER_CONCURRENCY);
      joins.forEach((j, i) => {
        const url =
          target.gatewayUrls.length > 0
            ? target.gatewayUrls[clients.length % target.gatewayUrls.length]
            : (j.gatewayUrl ?? '');
        clients.push({ userId: mine[i].user.id, url, ticket: j.ticket });
        seats.push({ userId: mine[i].user.id, token: mine[i].accessToken, sessionId: sessions[s].id });
      });
    }
    if (opts.filters && open.local) {
      const written = await seedFollows(
        open.local.infra.natsUrl,
        open.local.isolation.natsNamespace,
        members,
        opts.filters.follows,
      );
      log(`filters on: age bands in every seeded ticket, ${written} follow sets of ${opts.filters.follows}`);
    }
    const setupSec = (Date.now() - setupStart) / 1000;
    const workers = workerClients(opts.workers ?? defaultWorkerCount(total), opts.client ?? 'sdk');
    let lag = { pending: 0, ackPending: 0 };
    const t0 = { at: 0 };
    pool = new LoadPool(workers, (i: PoolInterval) => {
      // This interval's values arrived in the second before `t`: after the start once that second is.
      const t = t0.at === 0 ? null : Math.round((Date.now() - t0.at) / 1000);
      recorder.record(i.latencies, t !== null && t > START_SECONDS);
      if (t === null) return;
      recorder.closeInterval(t);
      const p = recorder.timeline.at(-1)!;
      timeline.push({
        t,
        ...i,
        latencies: undefined,
        p50: p.p50,
        p99: p.p99,
        max: p.max,
        lag: lag.pending + lag.ackPending,
      });
      progress.update(t, {
        connected: i.connected,
        sent: i.sent,
        ranks: i.rankFrames,
        p99: p.p99,
        lag: lag.pending + lag.ackPending,
        errors: i.errorFrames,
      });
    });
    log(
      `connecting ${clients.length} clients through ${workers.length} worker thread(s) (${workers.map((w) => w.label).join(', ')}) ` +
        `over ${opts.rampMs} ms`,
    );
    const connected = await pool.connect(clients, opts.rampMs);
    if (connected.retried > 0)
      log(
        `${connected.retried} connects were retried after the socket dropped before the welcome ` +
          `(${JSON.stringify(connected.dropReasons)})`,
      );
    if (connected.failed.length > 0)
      log(`${connected.failed.length} clients failed to connect, e.g. ${connected.failed[0]}`);
    const startSpreadMs = await startSessions(api, trainer.accessToken, sessions, opts.topOfHour === true);
    log(`${sessions.length} session(s) started within ${startSpreadMs} ms`);
    const liveness = await pool.play(opts.rate, opts.resendEvery);
    t0.at = Date.now();
    cost.begin();
    ownCost.begin();
    const workerCpuBefore = pool.cpu();
    sampler.start();
    const lagTimer = setInterval(() => {
      lagProbe?.lag(sessions.map((s) => s.id)).then(
        (l) => (lag = l),
        () => undefined,
      );
    }, 1_000);
    progress.start(opts.durationSec, 'live');
    await sleep(opts.durationSec * 1000);
    await pool.stop();
    progress.stop();
    const endedAt = new Map(sessions.map((s) => [s.id, deferred<number>()]));
    // Classes that started together on the hour end together: every trainer at once. Otherwise 8 at a time.
    const endSessions = () =>
      mapLimit(sessions, opts.topOfHour === true ? sessions.length : 8, async (s) => {
        await api.lifecycle(trainer.accessToken, s.id, 'end');
        endedAt.get(s.id)!.resolve(Date.now());
      });
    let settled: { settled: number; unsettled: number };
    let endUnderLoad: LiveRun['endUnderLoad'];
    if (opts.endAfterSec === undefined) {
      log('stopped sending; waiting for the last ratings to be ranked');
      settled = await pool.settle(SETTLE_TIMEOUT_MS);
    } else {
      await sleep(opts.endAfterSec * 1000);
      log(`ending the session(s) ${opts.endAfterSec} s after the last rating, ranked or not`);
      const began = Date.now();
      await endSessions();
      const ends = await pool.awaitEnded(ENDED_TIMEOUT_MS);
      endUnderLoad = { ...ends, endedWithinMs: Date.now() - began };
      settled = { settled: ends.ended, unsettled: ends.withoutEnded };
    }
    // Until every rating is ranked, so work the pipeline still owed at the end of the play counts too.
    const serverCost = cost.end(connected.ok, opts.durationSec);
    const harnessCost = ownCost.end(connected.ok, opts.durationSec);
    const byClient = clientCosts(await workerCpuBefore, await pool.cpu(), opts.durationSec);
    for (const c of byClient) {
      log(
        `${c.kind} workers' CPU per participant-second: ${c.usPerParticipantSecond} µs (${c.devices} devices)`,
      );
    }
    log(
      `server CPU per participant-second: ${serverCost.usPerParticipantSecond} µs ` +
        `(${JSON.stringify(serverCost.cpuSecByProcess)} CPU s over ${serverCost.participantSeconds} participant-s)`,
    );
    log(
      `harness CPU per participant-second: ${harnessCost.usPerParticipantSecond} µs (${harnessCost.cpuSec} CPU s)`,
    );
    await sleep(STATS_FLUSH_MS); // one more stats interval, so the last latencies are in the totals
    clearInterval(lagTimer);
    await sampler.stop();
    const serviceMetrics = await scrapeServiceMetrics(target.serviceUrls());
    // Ended under load, every participant's results are checked against what its device was told.
    const stampedeOpts = opts.stampede ?? (opts.endAfterSec === undefined ? undefined : STAMPEDE_DEFAULTS);
    // Still live, the sessions end now; with a stampede each participant asks the moment its own session has
    // ended (the end → results path: the gateways' barriers, the engine's final rows, the API's freeze), and
    // the answers are checked once the devices have told what they sent.
    if (opts.endAfterSec === undefined && stampedeOpts)
      log(
        `stampede: ending the sessions; each of ${seats.length} participants asks the moment its own ended`,
      );
    else if (stampedeOpts) log(`stampede: ${seats.length} participants ask for their results at once`);
    const ending = opts.endAfterSec === undefined ? endSessions() : Promise.resolve();
    const devices = pool;
    // The end states are read once the gateways closed the sockets they ended (up to CLOSE_WAIT_MS).
    const summarized = ending.then(() => devices.summary(CLOSE_WAIT_MS));
    const stampeding = stampedeOpts
      ? runStampede(
          target.apiUrl,
          seats,
          (id) => endedAt.get(id)!.promise,
          summarized.then((list) => new Map(list.map((c) => [c.userId, c.expectedScore]))),
          { ...stampedeOpts, apiPid: open.pids().api },
        )
      : Promise.resolve(undefined);
    // Together: a failed end rejects at once instead of leaving its participants waiting.
    const [stampede, summaries] = await Promise.all([stampeding, summarized]);
    const stored = await verifyStored(
      target.infra.clickhouseUrl,
      target.isolation?.clickhouseDb,
      sessions,
      summaries,
    );
    const run: LiveRun = {
      opts,
      startedAt,
      setupSec,
      workers: workers.length,
      clientKinds: clientsLabel(workers),
      clients: clients.length,
      connected: connected.ok,
      connectFailures: connected.failed.slice(0, 20),
      notLive: liveness.notLive,
      settled,
      endUnderLoad,
      summaries,
      stored,
      latency: recorder.summary(),
      latencyAfterStart: recorder.settledSummary(),
      latencyTimeline: recorder.timeline,
      timeline,
      resources: sampler.samples,
      resourceSummary: sampler.summary(),
      serviceMetrics,
      serverCost,
      harnessCost: { ...harnessCost, byClient },
      startSpreadMs,
    };
    const report = buildLiveReport(run);
    if (stampede === undefined) return report;
    const section = stampedeSection(stampede);
    return {
      ...report,
      checks: [...report.checks, ...section.checks],
      tables: [...report.tables, ...section.tables],
      data: { ...(report.data as object), stampede },
    };
  } finally {
    progress.stop();
    await pool?.close();
    await lagProbe?.close();
    recorder.destroy();
    await open.close();
  }
}

const clientsLabel = (workers: readonly WorkerClient[]) =>
  [...new Set(workers.map((w) => w.label))].join(' + ');

/**
 * Starts the sessions: 8 requests at a time, or (top of the hour) all at once. Returns the spread between
 * the first request sent and the last start answered, the window in which the sessions went live.
 */
async function startSessions(
  api: ApiClient,
  token: string,
  sessions: Session[],
  together: boolean,
): Promise<number> {
  const began = Date.now();
  await mapLimit(sessions, together ? sessions.length : 8, async (s) => {
    // 500 starts at once can meet the API's request timeout (503 UNAVAILABLE, Retry-After): retry, as a
    // trainer's app would.
    for (let attempt = 1; ; attempt++) {
      try {
        return await api.lifecycle(token, s.id, 'start');
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 503 || attempt >= START_ATTEMPTS) throw err;
        await sleep(START_RETRY_MS);
      }
    }
  });
  return Date.now() - began;
}

/** Polls ClickHouse until the expected number of ratings is stored (or the time is up). */
async function verifyStored(
  clickhouseUrl: string,
  db: string | undefined,
  sessions: Session[],
  summaries: ClientSummary[],
): Promise<StoredRatings | undefined> {
  if (!db) return undefined;
  const expected = summaries.reduce((n, s) => n + s.sent, 0);
  const ids = sessions.map((s) => s.id);
  let last: StoredRatings | undefined;
  try {
    await waitFor(
      'ratings stored in ClickHouse',
      async () => {
        last = await storedRatings(clickhouseUrl, db, ids);
        return last.stored >= expected ? last : undefined;
      },
      STORED_TIMEOUT_MS,
      500,
    );
  } catch {
    // report what is there: the difference is the finding
  }
  return last;
}
