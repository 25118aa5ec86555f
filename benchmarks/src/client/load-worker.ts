import { parentPort } from 'node:worker_threads';
import { TraineeConnection } from './trainee.js';
import type { ClientSpec, ClientSummary, WorkerCommand, WorkerStats } from './protocol.js';

const STATS_INTERVAL_MS = 1_000;
const port = parentPort!;

interface Player {
  spec: ClientSpec;
  conn: TraineeConnection;
  seq: number;
  energies: number[];
  timer?: NodeJS.Timeout;
  /** Lowest refused seq waiting for its resend (the gateway stores nothing above it before it). */
  resendFrom?: number;
  refusals: number;
}

/** A device backs off this long after a refusal, then resends everything from the refused seq. */
const RESEND_DELAY_MS = 250;

const players: Player[] = [];
let sent = 0;
let resent = 0;
let lastRankFrames = 0;
let lastErrors = 0;

/** Deterministic, varied energy: 20..100 in whole numbers, so scores are exact in binary floating point. */
const energyOf = (user: number, seq: number) => 20 + ((user * 7919 + seq * 104_729) % 81);
/** A stable number per user id, so that energies differ between users on every worker. */
function userSeed(userId: string): number {
  let h = 2166136261;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 16777619) >>> 0;
  return h % 1_000_003;
}

/** A device whose socket dropped before its welcome reconnects: this many times, 1 s apart. */
const CONNECT_ATTEMPTS = 3;

async function connectAll(
  clients: ClientSpec[],
  rampMs: number,
): Promise<{ ok: number; failed: string[]; retried: number }> {
  const failed: string[] = [];
  let retried = 0;
  const start = performance.now();
  await Promise.all(
    clients.map(async (spec, i) => {
      const delay = clients.length > 1 ? (rampMs * i) / clients.length - (performance.now() - start) : 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const player: Player = { spec, conn: undefined!, seq: 0, energies: [], refusals: 0 };
      const conn = new TraineeConnection(spec.url, spec.ticket, {
        validate: 'light',
        onError: (f) => onRefusal(player, f.resendFrom ?? f.seq),
      });
      player.conn = conn;
      for (let attempt = 1; ; attempt++) {
        try {
          await conn.connect(30_000);
          player.seq = conn.welcome?.lastSeq ?? 0;
          players.push(player);
          return;
        } catch (err) {
          if (attempt >= CONNECT_ATTEMPTS) {
            failed.push(`${spec.userId}: ${(err as Error).message}`);
            return;
          }
          retried++;
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    }),
  );
  return { ok: players.length, failed, retried };
}

/** What a well-behaved device does with a refused rating: wait a little, resend from the refused seq. */
function onRefusal(p: Player, from: number | undefined): void {
  if (from === undefined) return;
  p.refusals++;
  if (p.resendFrom !== undefined) {
    p.resendFrom = Math.min(p.resendFrom, from);
    return;
  }
  p.resendFrom = from;
  setTimeout(() => {
    const start = p.resendFrom!;
    p.resendFrom = undefined;
    for (let s = start; s <= p.seq; s++) {
      if (p.energies[s] === undefined) continue;
      p.conn.sendRating(s, p.energies[s], false);
      resent++;
    }
  }, RESEND_DELAY_MS);
}

/** Starts each client's ratings once it is live (its welcome said so, or `started` arrived). */
async function play(ratePerSec: number, resendEvery: number): Promise<{ live: number; notLive: number }> {
  const intervalMs = 1000 / ratePerSec;
  const live = await Promise.allSettled(players.map((p) => p.conn.waitLive()));
  players.forEach((p) => {
    const seed = userSeed(p.spec.userId);
    const tick = () => {
      if (!p.conn.open) return;
      p.seq++;
      const energy = energyOf(seed, p.seq);
      p.energies[p.seq] = energy;
      p.conn.sendRating(p.seq, energy);
      sent++;
      if (resendEvery > 0 && p.seq % resendEvery === 0 && p.seq > 1) {
        p.conn.sendRating(p.seq - 1, p.energies[p.seq - 1], false);
        resent++;
      }
    };
    const first = setTimeout(() => {
      tick();
      p.timer = setInterval(tick, intervalMs);
    }, Math.random() * intervalMs);
    p.timer = first;
  });
  const notLive = live.filter((r) => r.status === 'rejected').length;
  return { live: live.length - notLive, notLive };
}

function stop(): void {
  for (const p of players) {
    clearTimeout(p.timer);
    clearInterval(p.timer);
  }
}

/** Waits until every open client's last rank frame counts its last accepted seq. */
async function settle(timeoutMs: number): Promise<{ settled: number; unsettled: number }> {
  const results = await Promise.allSettled(
    players.map((p) =>
      p.seq === 0 || !p.conn.open ? Promise.resolve() : p.conn.waitForRankSeq(p.seq, timeoutMs),
    ),
  );
  const unsettled = results.filter((r) => r.status === 'rejected').length;
  return { settled: results.length - unsettled, unsettled };
}

/**
 * Waits until every client got `ended` (or its socket closed): the session was ended while its devices may
 * still have had ratings on their way (issue 14).
 */
async function awaitEnded(timeoutMs: number): Promise<{ ended: number; withoutEnded: number }> {
  await Promise.allSettled(
    players.map((p) =>
      p.conn.ended !== undefined || !p.conn.open
        ? Promise.resolve()
        : Promise.race([p.conn.nextFrame((f) => f.type === 'ended', timeoutMs), p.conn.closed]),
    ),
  );
  const ended = players.filter((p) => p.conn.ended !== undefined).length;
  return { ended, withoutEnded: players.length - ended };
}

function summary(): ClientSummary[] {
  return players.map((p) => {
    // A device told at the end where its ratings stop expects exactly those up to it.
    const endedLastSeq = p.conn.ended?.lastSeq ?? null;
    const upTo = endedLastSeq ?? p.seq;
    let expectedScore = 0;
    let sentSeqs = 0;
    let notTakenAtEnd = 0;
    for (let s = 1; s <= p.seq; s++) {
      if (p.energies[s] === undefined) continue;
      if (s > upTo) {
        notTakenAtEnd++;
        continue;
      }
      expectedScore += p.energies[s];
      sentSeqs++;
    }
    return {
      userId: p.spec.userId,
      sent: sentSeqs,
      endedLastSeq,
      notTakenAtEnd,
      maxSeq: p.seq,
      refusals: p.refusals,
      expectedScore,
      lastRankScore: p.conn.lastRank?.score ?? null,
      lastRank: p.conn.lastRank?.rank ?? null,
      lastRankSeq: p.conn.lastRank?.seq ?? null,
      rankFrames: p.conn.rankFrames,
      maxRankGapMs: p.conn.maxRankGapMs,
      errors: Object.fromEntries(p.conn.errors),
      protocolViolations: p.conn.protocolViolations.slice(0, 5),
    };
  });
}

function reportStats(): void {
  const latencies: number[] = [];
  let rankFrames = 0;
  let errors = 0;
  let connected = 0;
  let unconfirmed = 0;
  for (const p of players) {
    for (const l of p.conn.drainLatencies()) latencies.push(l);
    rankFrames += p.conn.rankFrames;
    for (const n of p.conn.errors.values()) errors += n;
    if (p.conn.open) connected++;
    unconfirmed += p.conn.unconfirmed;
  }
  const stats: WorkerStats = {
    evt: 'stats',
    latencies: Float64Array.from(latencies),
    sent,
    resent,
    rankFrames: rankFrames - lastRankFrames,
    errorFrames: errors - lastErrors,
    connected,
    unconfirmed,
  };
  sent = 0;
  resent = 0;
  lastRankFrames = rankFrames;
  lastErrors = errors;
  port.postMessage(stats, [stats.latencies.buffer as ArrayBuffer]);
}

const statsTimer = setInterval(reportStats, STATS_INTERVAL_MS);

async function handle(msg: WorkerCommand): Promise<unknown> {
  switch (msg.cmd) {
    case 'connect':
      return connectAll(msg.clients, msg.rampMs);
    case 'play':
      return play(msg.ratePerSec, msg.resendEvery);
    case 'stop':
      return stop();
    case 'settle':
      return settle(msg.timeoutMs);
    case 'awaitEnded':
      return awaitEnded(msg.timeoutMs);
    case 'summary':
      return summary();
    case 'close':
      stop();
      reportStats();
      clearInterval(statsTimer);
      await Promise.all(players.map((p) => (p.conn.open ? p.conn.close() : undefined)));
      return undefined;
  }
}

port.on('message', (msg: WorkerCommand) => {
  handle(msg).then(
    (result) => port.postMessage({ id: msg.id, result }),
    (err: Error) => port.postMessage({ id: msg.id, error: err.stack ?? err.message }),
  );
});
