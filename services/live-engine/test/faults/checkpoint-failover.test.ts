import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  RankSnapshot,
  encodeRatingBatch,
  partitionOf,
  ratingBatchMsgId,
  type RatingMessage,
} from '@pulse/contracts';
import { DEFAULT_CHECKPOINT_INTERVAL_MS } from '../../src/session/partition-checkpoints.js';
import { partitionKey } from '../../src/session/partitions.js';
import { rendezvousOwner } from '../../src/session/rendezvous.js';
import { chRows, eventually, openInfra, publishEvent, publishParticipant, type Infra } from '../support.js';

/**
 * Issue 14's measure, at the size this box allows: one session of FAILOVER_PARTICIPANTS trainees (default
 * 2,000) FAILOVER_MINUTES in (default 3; its history is played FAILOVER_PREFILL_SPEEDUP = 10 times faster than
 * real time as gateway batches, 1 rating per trainee per second of play), engine A owns its partition, engine B stands by; ratings keep flowing live at 1/s per
 * trainee; A is SIGKILLed; the time from the kill to the first rank snapshot from B, B's replayed message count
 * and its rebuild time are printed (FAULT-FIGURES), with checkpoints (CHECKPOINT_INTERVAL_MS default) and
 * without (0). Results are then checked exact against the ratings sent. Not in `npm test`: `npm run test:faults`.
 */
const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const PARTICIPANTS = Number(process.env.FAILOVER_PARTICIPANTS ?? 2_000);
const MINUTES = Number(process.env.FAILOVER_MINUTES ?? 3);
const CHECKPOINT_MS = Number(process.env.FAILOVER_CHECKPOINT_MS ?? DEFAULT_CHECKPOINT_INTERVAL_MS);
/** The history is played this many times faster than real time (then live at 1×). */
const PREFILL_SPEEDUP = Number(process.env.FAILOVER_PREFILL_SPEEDUP ?? 10);
const ENGINES = ['engine-a', 'engine-b'];
/** A gateway publishes a partition's batch every 25 ms: 40 messages per second of play. */
const BATCHES_PER_SEC = 40;
const GATEWAY = 'gw-failover';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Rebuild {
  partition: number;
  checkpointSeq: number | null;
  checkpointAgeMs: number | null;
  replayed: number;
  rebuildMs: number;
}

function startEngine(infra: Infra, id: string, checkpointMs: number, rebuilds: Rebuild[]): ChildProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      NATS_NAMESPACE: infra.namespace,
      CLICKHOUSE_DB: infra.db,
      ENGINE_PORT: '0',
      ENGINE_ID: id,
      CHECKPOINT_INTERVAL_MS: String(checkpointMs),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const log = createWriteStream(`/tmp/checkpoint-failover-${infra.namespace}-${id}.log`);
  child.stdout!.pipe(log);
  child.stdout!.setEncoding('utf8');
  let partial = '';
  child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.includes('"replayed"')) continue;
      const e = JSON.parse(line) as Rebuild;
      rebuilds.push(e);
    }
  });
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

/** A session id whose partition engine-a owns while both engines are members. */
function sessionOwnedBy(owner: string): string {
  for (;;) {
    const id = randomUUID();
    if (rendezvousOwner(partitionKey(partitionOf(id)), ENGINES) === owner) return id;
  }
}

class Play {
  readonly users = Array.from({ length: PARTICIPANTS }, () => randomUUID());
  readonly scoreCenti = new Map<string, number>();
  sent = 0;
  second = 0;
  private batchSeq = 0;
  private readonly incarnation = randomUUID().slice(0, 8);

  constructor(
    private readonly infra: Infra,
    readonly sessionId: string,
    readonly startedAt: number,
  ) {}

  /** Second `sec` of play: every trainee's rating `sec`, in BATCHES_PER_SEC batch messages. */
  async publishSecond(sec: number): Promise<void> {
    const per = Math.ceil(this.users.length / BATCHES_PER_SEC);
    const publishes: Promise<unknown>[] = [];
    for (let b = 0; b < BATCHES_PER_SEC; b++) {
      const ratings: RatingMessage[] = this.users.slice(b * per, (b + 1) * per).map((userId, i) => {
        const u = b * per + i;
        const energy = ((u * 7_919 + sec * 104_729) % 10_001) / 100;
        this.scoreCenti.set(userId, (this.scoreCenti.get(userId) ?? 0) + Math.round(energy * 100));
        return {
          kind: 'rating',
          sessionId: this.sessionId,
          userId,
          seq: sec,
          energy,
          ts: this.startedAt + sec * 1_000 + b * 25,
        };
      });
      if (ratings.length === 0) continue;
      this.sent += ratings.length;
      const partition = partitionOf(this.sessionId);
      publishes.push(
        this.infra.js.publish(
          this.infra.names.ratingBatch(partition, GATEWAY),
          encodeRatingBatch(new Map([[this.sessionId, ratings]])),
          { msgID: ratingBatchMsgId(GATEWAY, this.incarnation, partition, ++this.batchSeq) },
        ),
      );
    }
    await Promise.all(publishes);
    this.second = sec;
  }
}

describe(`Checkpoint failover: ${PARTICIPANTS} trainees ${MINUTES} min in, the owning engine SIGKILLed (issue 14)`, function () {
  this.timeout(30 * 60_000);
  for (const checkpointMs of [CHECKPOINT_MS, 0])
    it(`${checkpointMs > 0 ? `with checkpoints every ${checkpointMs / 1000} s` : 'without checkpoints'}: ranks from the new owner, exact results`, async () => {
      const infra = await openInfra();
      const engines: ChildProcess[] = [];
      const rebuilds: Rebuild[] = [];
      try {
        const sessionId = sessionOwnedBy('engine-a');
        const partition = partitionOf(sessionId);
        const startedAt = Date.now() - MINUTES * 60_000;
        const play = new Play(infra, sessionId, startedAt);
        await publishEvent(infra, 'started', sessionId, startedAt);
        for (let i = 0; i < play.users.length; i += 500) {
          await Promise.all(
            play.users
              .slice(i, i + 500)
              .map((u, j) => publishParticipant(infra, sessionId, u, `T${i + j}`, 70)),
          );
        }
        // Engine A runs from the start; the history is played at PREFILL_SPEEDUP × real time (a backlog
        // published all at once would be consumed in bursts that block A's event loop past its lease).
        const a = startEngine(infra, 'engine-a', checkpointMs, rebuilds);
        engines.push(a);
        await sleep(3_000);
        const prefillStarted = Date.now();
        for (let sec = 1; sec <= MINUTES * 60; sec++) {
          await play.publishSecond(sec);
          await sleep(Math.max(0, prefillStarted + (sec * 1_000) / PREFILL_SPEEDUP - Date.now()));
        }
        const storedCount = async () =>
          Number(
            (
              await chRows<{ n: string }>(
                infra,
                `SELECT count() AS n FROM ${infra.db}.ratings WHERE session_id = '${sessionId}'`,
              )
            )[0].n,
          );
        await eventually(
          async () => ((await storedCount()) >= play.sent ? true : undefined),
          15 * 60_000,
          'engine A caught up with the history',
        );
        console.log(
          `      history: ${play.sent} ratings in ${MINUTES * 60 * BATCHES_PER_SEC} batches, counted and stored by engine A in ${((Date.now() - prefillStarted) / 1000).toFixed(1)} s`,
        );

        // Live play from here: one rating per trainee per second.
        let playing = true;
        const live = (async () => {
          let next = Date.now();
          while (playing) {
            await play.publishSecond(play.second + 1);
            next += 1_000;
            await sleep(Math.max(0, next - Date.now()));
          }
        })();
        const b = startEngine(infra, 'engine-b', checkpointMs, rebuilds);
        engines.push(b);
        await sleep(8_000); // B is a member and runs its share of the partitions (not this session's)
        if (checkpointMs > 0) await sleep(checkpointMs * (0.5 + Math.random() * 0.5)); // kill at a random point of a cycle

        let killAt = 0;
        let firstRankMs = -1;
        const sub = infra.nc.subscribe(infra.names.ranks(sessionId), {
          callback: (_err, msg) => {
            if (killAt === 0 || firstRankMs >= 0) return;
            const snap = RankSnapshot.parse(msg.json());
            if (snap.at > killAt) firstRankMs = Date.now() - killAt;
          },
        });
        const rebuildsBefore = rebuilds.length;
        killAt = Date.now();
        a.kill('SIGKILL');
        await exited(a);
        await eventually(() => (firstRankMs >= 0 ? true : undefined), 120_000, 'ranks from engine B');
        sub.unsubscribe();
        const rebuild = rebuilds.slice(rebuildsBefore).find((r) => r.partition === partition)!;
        await sleep(5_000);
        playing = false;
        await live;

        await publishEvent(infra, 'ended', sessionId, startedAt);
        await eventually(
          async () => {
            const r = await chRows<{ f: number }>(
              infra,
              `SELECT final AS f FROM ${infra.db}.session_results FINAL WHERE session_id = '${sessionId}'`,
            );
            return r.length === 1 && Number(r[0].f) === 1 ? true : undefined;
          },
          5 * 60_000,
          'final results',
        );
        const standings = await chRows<{ user_id: string; rank: number; score: number; samples: number }>(
          infra,
          `SELECT user_id, rank, score, samples FROM ${infra.db}.standings FINAL WHERE session_id = '${sessionId}' ORDER BY rank`,
        );
        const wrong = standings.filter(
          (s) =>
            Math.round(s.score * 100) !== play.scoreCenti.get(s.user_id) || Number(s.samples) !== play.second,
        );
        const [{ n, distinct }] = await chRows<{ n: string; distinct: string }>(
          infra,
          `SELECT count() AS n, uniqExact(user_id, seq) AS distinct FROM ${infra.db}.ratings FINAL WHERE session_id = '${sessionId}'`,
        );
        const figures = {
          participants: PARTICIPANTS,
          minutesIn: MINUTES,
          checkpointIntervalMs: checkpointMs,
          checkpointAgeMs: rebuild.checkpointAgeMs,
          killToFirstRankMs: firstRankMs,
          replayedMessages: rebuild.replayed,
          rebuildMs: rebuild.rebuildMs,
          ratingsSent: play.sent,
          rowsFinal: Number(n),
          distinctRows: Number(distinct),
          wrongStandings: wrong.length,
        };
        console.log(`FAULT-FIGURES checkpoint-failover ${JSON.stringify(figures)}`);
        expect(standings).to.have.length(PARTICIPANTS);
        expect(wrong).to.deep.equal([]);
        expect(standings.map((s) => s.score)).to.deep.equal(
          [...standings.map((s) => s.score)].sort((x, y) => y - x),
        );
        expect([Number(n), Number(distinct)]).to.deep.equal([play.sent, play.sent]);
        if (checkpointMs > 0) expect(rebuild.checkpointSeq).to.be.a('number');
        else expect(rebuild.checkpointSeq).to.equal(null);
      } finally {
        for (const e of engines) {
          if (e.exitCode === null && e.signalCode === null) {
            e.kill('SIGKILL');
            await exited(e);
          }
        }
        await infra.close();
      }
    });
});
