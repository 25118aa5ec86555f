import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Kvm, type KV } from '@nats-io/kv';
import { expect } from 'chai';
import { RATING_PARTITIONS, partitionOf, type RatingMessage } from '@pulse/contracts';
import { partitionKey } from '../../src/session/partitions.js';
import { rendezvousOwner } from '../../src/session/rendezvous.js';
import { expectedStandings, type Sent } from '../expected.js';
import {
  chRows,
  eventually,
  openInfra,
  publishEvent,
  publishParticipant,
  publishRatings,
  type Infra,
} from '../support.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const MINUTE_MS = 1_000;
const TTL_MS = 3_000;
const ENGINES = ['engine-a', 'engine-b', 'engine-c'];
const SESSIONS = 6;
const USERS = 12;

function startEngine(infra: Infra, engineId: string): ChildProcess {
  return spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      NATS_NAMESPACE: infra.namespace,
      CLICKHOUSE_DB: infra.db,
      ENGINE_PORT: '0',
      ENGINE_ID: engineId,
      ENGINE_LEASE_TTL_MS: String(TTL_MS),
      MINUTE_MS: String(MINUTE_MS),
      RANK_TICK_MS: '50',
      RESULTS_FLUSH_MS: '300',
      CH_FLUSH_MS: '100',
      CH_BATCH_MAX_ROWS: '50',
      ACK_WAIT_MS: '2000',
      LOG_LEVEL: process.env.ENGINE_TEST_LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

async function kvKeys(kv: KV, filter: string): Promise<string[]> {
  const out = new Set<string>(); // a key updated while listing can come twice
  for await (const k of await kv.keys(filter)) out.add(k);
  return [...out].sort();
}

/** The ownership key of a session: its partition's (issue 12: leases per partition, not per session). */
const keyOf = (sessionId: string) => partitionKey(partitionOf(sessionId));

/** Partition key → engine id of its lease holder, as the KV says. */
async function leaseHolders(kv: KV): Promise<Map<string, string>> {
  const holders = new Map<string, string>();
  for (const key of await kvKeys(kv, 'leases.>')) {
    const e = await kv.get(key);
    if (e !== null && e.operation === 'PUT') {
      holders.set(key.slice('leases.'.length), (e.json() as { engineId: string }).engineId);
    }
  }
  return holders;
}

interface Live {
  readonly id: string;
  readonly users: string[];
  readonly sent: Sent[];
  readonly all: RatingMessage[];
}

describe('Several live engines share the ratings partitions (3 compiled engines as child processes)', () => {
  let infra: Infra;
  const engines = new Map<string, ChildProcess>();

  beforeEach(async () => {
    infra = await openInfra();
  });
  afterEach(async () => {
    for (const child of engines.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    engines.clear();
    await infra.close();
  });

  it('spreads partitions by rendezvous, moves a killed engine’s partitions within the TTL and a stopped one’s at once, with exact results', async () => {
    for (const id of ENGINES) engines.set(id, startEngine(infra, id));
    const kv = await new Kvm(infra.nc).create(infra.names.enginesBucket, { ttl: TTL_MS, history: 1 });
    await eventually(
      async () => ((await kvKeys(kv, 'members.>')).length === ENGINES.length ? true : undefined),
      20_000,
      'three members',
    );

    const startedAt = Date.now() - 30_000;
    const sessions: Live[] = [];
    for (let s = 0; s < SESSIONS; s++) {
      const live: Live = {
        id: randomUUID(),
        users: Array.from({ length: USERS }, () => randomUUID()),
        sent: [],
        all: [],
      };
      sessions.push(live);
      await publishEvent(infra, 'started', live.id, startedAt);
      for (const [i, userId] of live.users.entries()) {
        await publishParticipant(infra, live.id, userId, `T${s}-${i}`, 60 + i);
        live.sent.push({ kind: 'join', userId, name: `T${s}-${i}`, weightKg: 60 + i });
      }
    }
    const round = async (fromSeq: number, toSeq: number) => {
      for (const [s, live] of sessions.entries()) {
        const batch: RatingMessage[] = [];
        for (let seq = fromSeq; seq <= toSeq; seq++) {
          for (const [i, userId] of live.users.entries()) {
            const energy = ((seq * 37 + i * 11 + s * 7) % 10_001) / 100;
            batch.push({
              kind: 'rating',
              sessionId: live.id,
              userId,
              seq,
              energy,
              ts: startedAt + seq * 250 + i,
            });
          }
        }
        await publishRatings(infra, batch);
        for (const r of batch) live.sent.push({ kind: 'rating', r });
        live.all.push(...batch);
      }
    };
    await round(1, 10);

    // Every partition has exactly one lease, held by its rendezvous owner among the three; sessions none.
    const partitionKeys = Array.from({ length: RATING_PARTITIONS }, (_, p) => partitionKey(p));
    await eventually(
      async () => {
        const holders = await leaseHolders(kv);
        return partitionKeys.every((k) => holders.get(k) === rendezvousOwner(k, ENGINES)) ? true : undefined;
      },
      20_000,
      'one lease per partition, at its rendezvous owner',
    );
    expect(await kvKeys(kv, 'leases.>')).to.deep.equal(partitionKeys.map((k) => `leases.${k}`).sort());
    const owners = new Map(sessions.map((l) => [l.id, rendezvousOwner(keyOf(l.id), ENGINES)!]));

    // SIGKILL the engine owning the most sessions, mid-session.
    const load = (id: string) => [...owners.values()].filter((o) => o === id).length;
    const victim = [...ENGINES].sort((a, b) => load(b) - load(a))[0];
    const moved = sessions.filter((l) => owners.get(l.id) === victim);
    const firstSnapshotAfter = new Map<string, number>();
    let since = 0;
    const subs = moved.map((l) =>
      infra.nc.subscribe(infra.names.ranks(l.id), {
        callback: () => {
          if (since > 0 && !firstSnapshotAfter.has(l.id)) firstSnapshotAfter.set(l.id, Date.now() - since);
        },
      }),
    );
    since = Date.now();
    engines.get(victim)!.kill('SIGKILL');
    await exited(engines.get(victim)!);
    await round(11, 20); // while the dead engine still holds its leases

    const survivors = ENGINES.filter((e) => e !== victim);
    await eventually(
      async () => {
        const holders = await leaseHolders(kv);
        return moved.every((l) => holders.get(keyOf(l.id)) === rendezvousOwner(keyOf(l.id), survivors))
          ? true
          : undefined;
      },
      TTL_MS + 5_000,
      'the killed engine’s sessions at their new rendezvous owners',
    );
    await eventually(
      () => (firstSnapshotAfter.size === moved.length ? true : undefined),
      TTL_MS + 10_000,
      'ranks from the new owners',
    );
    for (const sub of subs) sub.unsubscribe();
    const crashPauseMs = Math.max(...firstSnapshotAfter.values());
    await round(21, 30);

    // SIGTERM a second engine: it releases its leases, so the last engine takes over well before the TTL.
    const load2 = (id: string) =>
      sessions.filter((l) => rendezvousOwner(keyOf(l.id), survivors) === id).length;
    const [stopped, last] = [...survivors].sort((a, b) => load2(b) - load2(a));
    const handed = sessions.filter((l) => rendezvousOwner(keyOf(l.id), survivors) === stopped);
    const stopAt = Date.now();
    engines.get(stopped)!.kill('SIGTERM');
    expect(await exited(engines.get(stopped)!)).to.equal(0);
    await eventually(
      async () => {
        const holders = await leaseHolders(kv);
        return handed.every((l) => holders.get(keyOf(l.id)) === last) ? true : undefined;
      },
      TTL_MS + 5_000,
      'the stopped engine’s sessions at the last engine',
    );
    const handoverMs = Date.now() - stopAt;
    await round(31, 40);
    for (const l of sessions) await publishEvent(infra, 'ended', l.id, startedAt);

    for (const l of sessions) {
      await eventually(
        async () => {
          const r = await chRows<{ f: number }>(
            infra,
            `SELECT final AS f FROM ${infra.db}.session_results FINAL WHERE session_id = '${l.id}'`,
          );
          return r.length === 1 && Number(r[0].f) === 1 ? true : undefined;
        },
        60_000,
        `final results of session ${l.id}`,
      );
      const expected = expectedStandings(l.sent, startedAt, MINUTE_MS);
      const standings = await chRows<{ user_id: string; rank: number; score: number; samples: number }>(
        infra,
        `SELECT user_id, rank, score, samples FROM ${infra.db}.standings FINAL WHERE session_id = '${l.id}' ORDER BY rank`,
      );
      expect(standings.map((s) => [s.user_id, s.rank, s.score, s.samples])).to.deep.equal(
        expected.map((e) => [e.userId, e.rank, e.score, e.samples]),
      );
      const [{ n, distinct }] = await chRows<{ n: string; distinct: string }>(
        infra,
        `SELECT count() AS n, uniqExact(user_id, seq) AS distinct FROM ${infra.db}.ratings FINAL WHERE session_id = '${l.id}'`,
      );
      expect([Number(n), Number(distinct)]).to.deep.equal([l.all.length, l.all.length]);
    }
    // The last engine runs every partition: 16 leases, none per session.
    expect((await leaseHolders(kv)).size).to.equal(RATING_PARTITIONS);
    expect([...(await leaseHolders(kv)).values()].every((e) => e === last)).to.equal(true);
    console.log(
      `      moved ${moved.length} session(s) after SIGKILL: first ranks from the new owner after ${(crashPauseMs / 1000).toFixed(1)} s (TTL ${TTL_MS / 1000} s); SIGTERM handover of ${handed.length} in ${(handoverMs / 1000).toFixed(1)} s`,
    );
    engines.get(last)!.kill('SIGTERM');
    expect(await exited(engines.get(last)!)).to.equal(0);
  });
});
