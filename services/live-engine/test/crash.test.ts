import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { partitionOf, type RatingMessage } from '@pulse/contracts';
import { expectedStandings, type Sent } from './expected.js';
import {
  chRows,
  eventually,
  openInfra,
  publishEvent,
  publishParticipant,
  publishRatings,
  type Infra,
} from './support.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const MINUTE_MS = 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `checkpointMs` 0: no checkpoints (the restarted engine replays the whole partition). */
function startEngine(infra: Infra, checkpointMs = 0): ChildProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      NATS_NAMESPACE: infra.namespace,
      CLICKHOUSE_DB: infra.db,
      ENGINE_PORT: '0',
      MINUTE_MS: String(MINUTE_MS),
      RANK_TICK_MS: '50',
      RESULTS_FLUSH_MS: '300',
      CH_FLUSH_MS: '100',
      CH_BATCH_MAX_ROWS: '50',
      ACK_WAIT_MS: '2000',
      CHECKPOINT_INTERVAL_MS: String(checkpointMs),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout!.setEncoding('utf8');
  let partial = '';
  child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (typeof entry.partition === 'number' && typeof entry.replayed === 'number') rebuilds.push(entry);
        if (Number(entry.level) >= 40) process.stderr.write(`${line}\n`);
      } catch {
        process.stderr.write(`${line}\n`);
      }
    }
  });
  return child;
}

/** The engines' "partition rebuilt/restored" log lines (partition, checkpointSeq, replayed, ...). */
const rebuilds: Array<Record<string, unknown>> = [];

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

describe('Live engine crash safety (compiled engine as a child process)', () => {
  let infra: Infra;
  let engine: ChildProcess | null = null;

  beforeEach(async () => {
    infra = await openInfra();
  });
  afterEach(async () => {
    if (engine !== null && engine.exitCode === null) {
      engine.kill('SIGKILL');
      await exited(engine);
    }
    await infra.close();
  });

  const cases = [
    {
      title: 'loses nothing and counts nothing twice when SIGKILLed mid-session and started again',
      endWhileDown: false,
      checkpointMs: 0,
    },
    {
      title: 'still freezes exact results when the session ended while the engine was down',
      endWhileDown: true,
      checkpointMs: 0,
    },
    {
      title: 'restores its last checkpoint after a SIGKILL and replays only the tail, exact (issue 14)',
      endWhileDown: false,
      checkpointMs: 300,
    },
  ];
  for (const { title, endWhileDown, checkpointMs } of cases)
    it(title, async () => {
      rebuilds.length = 0;
      const sessionId = randomUUID();
      const startedAt = Date.now() - 30_000;
      const users = Array.from({ length: 30 }, () => randomUUID());
      const sent: Sent[] = [];
      const all: RatingMessage[] = [];
      const round = async (
        fromSeq: number,
        toSeq: number,
        opts: { msgId?: boolean; record?: boolean } = {},
      ) => {
        const batch: RatingMessage[] = [];
        for (let seq = fromSeq; seq <= toSeq; seq++) {
          for (const [i, userId] of users.entries()) {
            const energy = ((seq * 53 + i * 29) % 10_001) / 100;
            batch.push({ kind: 'rating', sessionId, userId, seq, energy, ts: startedAt + seq * 300 + i });
          }
        }
        await publishRatings(infra, batch, opts.msgId ?? true);
        for (const r of batch) sent.push({ kind: 'rating', r });
        if (opts.record ?? true) all.push(...batch);
      };

      engine = startEngine(infra, checkpointMs);
      await publishEvent(infra, 'started', sessionId, startedAt);
      for (const [i, userId] of users.entries()) {
        await publishParticipant(infra, sessionId, userId, `Trainee ${i}`, 55 + i);
        sent.push({ kind: 'join', userId, name: `Trainee ${i}`, weightKg: 55 + i });
      }
      await round(1, 10);
      await eventually(
        async () => {
          const [{ n }] = await chRows<{ n: string }>(
            infra,
            `SELECT count() AS n FROM ${infra.db}.ratings WHERE session_id = '${sessionId}'`,
          );
          return Number(n) > 0 ? true : undefined;
        },
        20_000,
        'the first ratings in ClickHouse',
      );
      await round(11, 20);
      if (checkpointMs > 0) await sleep(3 * checkpointMs); // a checkpoint covering (some of) rounds 1-20
      engine.kill('SIGKILL');
      await exited(engine);

      await round(21, 30); // while no engine runs
      if (endWhileDown) {
        await publishEvent(infra, 'ended', sessionId, startedAt);
        engine = startEngine(infra, checkpointMs);
      } else {
        // Wait until the restarted engine publishes ranks again: it rebuilt the live actor from the stream.
        let snapshots = 0;
        const sub = infra.nc.subscribe(infra.names.ranks(sessionId), {
          callback: () => {
            snapshots++;
          },
        });
        engine = startEngine(infra, checkpointMs);
        await eventually(() => (snapshots > 0 ? true : undefined), 20_000, 'ranks from the restarted engine');
        sub.unsubscribe();
        const rebuilt = rebuilds.find((r) => r.partition === partitionOf(sessionId));
        // Joins and rounds 1-20 went to the killed engine; without a checkpoint the restart replays them all.
        const beforeKill = users.length * 21;
        if (checkpointMs > 0) {
          expect(rebuilt?.checkpointSeq).to.be.a('number');
          expect(rebuilt?.replayed).to.be.below(beforeKill);
        } else {
          expect(rebuilt?.checkpointSeq).to.equal(null);
          expect(rebuilt?.replayed).to.be.above(beforeKill / 2); // all it was delivered, from the stream start
        }
        await round(31, 40);
        // Resends after reconnects: JetStream drops the same msg ids; ones stored again must count once too.
        await round(35, 40, { record: false });
        await round(38, 40, { msgId: false, record: false });
        await round(41, 45);
        await publishEvent(infra, 'ended', sessionId, startedAt);
      }

      await eventually(
        async () => {
          const r = await chRows<{ f: number }>(
            infra,
            `SELECT final AS f FROM ${infra.db}.session_results FINAL WHERE session_id = '${sessionId}'`,
          );
          return r.length === 1 && Number(r[0].f) === 1 ? true : undefined;
        },
        60_000,
        'final session results',
      );

      const expected = expectedStandings(sent, startedAt, MINUTE_MS);
      const standings = await chRows<{
        user_id: string;
        rank: number;
        score: number;
        samples: number;
        calories: number;
      }>(
        infra,
        `SELECT user_id, rank, score, samples, calories FROM ${infra.db}.standings FINAL WHERE session_id = '${sessionId}' ORDER BY rank`,
      );
      expect(standings.map((s) => [s.user_id, s.rank, s.score, s.samples])).to.deep.equal(
        expected.map((e) => [e.userId, e.rank, e.score, e.samples]),
      );
      for (const [i, s] of standings.entries()) expect(s.calories).to.be.closeTo(expected[i].calories, 0.011);
      const [{ n, distinct }] = await chRows<{ n: string; distinct: string }>(
        infra,
        `SELECT count() AS n, uniqExact(user_id, seq) AS distinct FROM ${infra.db}.ratings FINAL WHERE session_id = '${sessionId}'`,
      );
      expect([Number(n), Number(distinct)]).to.deep.equal([all.length, all.length]);

      engine.kill('SIGTERM');
      expect(await exited(engine)).to.equal(0);
    });
});
