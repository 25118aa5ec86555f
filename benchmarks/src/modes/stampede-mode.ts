import { createClient } from '@clickhouse/client';
import { ClickHouseTable } from '@pulse/contracts';
import type { MinuteRow, SessionResultRow, StandingRow } from '@pulse/contracts';
import { ApiClient, mapLimit, registerAndJoin, type Account, type Session } from '../client/rest.js';
import { seedJoins, seedTrainees } from '../client/seed.js';
import { STACK_ACCESS_SECRET, STACK_JOIN_TICKET_SECRET } from '../stack.js';
import type { Report } from '../report/report.js';
import { runLive, type LiveOptions } from './live.js';
import { openTarget } from './target.js';
import {
  deferred,
  runStampede,
  stampedeSection,
  type StampedeOptions,
  type StampedeParticipant,
} from './stampede.js';

export interface StampedeModeOptions extends Omit<LiveOptions, 'stampede'> {
  /**
   * `live`: a live run (gateways, engine, ClickHouse) and then the stampede. `seeded`: no engine; the
   * harness writes the engine's documented final rows to ClickHouse itself (as the API's tests do), so the
   * API's freeze and the stampede are measured at sizes the live pipeline of this box cannot play.
   */
  source: 'live' | 'seeded';
  /** Minute buckets per participant (seeded). */
  minutes: number;
  stampede: StampedeOptions;
}

const CH_INSERT_ROWS = 20_000;
const SAMPLES_PER_MINUTE = 6;

export async function runStampedeMode(opts: StampedeModeOptions): Promise<Report> {
  if (opts.source === 'live') return runLive({ ...opts, stampede: opts.stampede });
  return runSeeded(opts);
}

async function runSeeded(opts: StampedeModeOptions): Promise<Report> {
  const log = opts.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const open = await openTarget({ ...opts, engines: 0 });
  try {
    if (!open.local) throw new Error('--source seeded writes ClickHouse rows: it needs the local stack');
    const { infra, isolation } = open.local;
    const api = new ApiClient(open.target.apiUrl);
    const total = opts.participants * opts.sessions;
    const seed = {
      databaseUrl: infra.databaseUrl,
      databaseSchema: isolation.databaseSchema,
      accessSecret: STACK_ACCESS_SECRET,
      joinSecret: STACK_JOIN_TICKET_SECRET,
    };
    log(`stampede: ${opts.sessions} session(s) × ${opts.participants} participants, seeded`);
    const trainer = await api.register('trainer', 'Stampede Coach');
    const sessions: Session[] = await mapLimit(Array.from({ length: opts.sessions }), 8, (_, i) =>
      api.createSession(trainer.accessToken, {
        title: `${opts.name} #${i + 1}`,
        capacity: opts.participants + 10,
      }),
    );
    const accounts = await seedTrainees(api, seed, total, 'Stampede');
    const bySession = sessions.map((_, s) => accounts.filter((__, i) => i % sessions.length === s));
    for (let s = 0; s < sessions.length; s++) {
      await registerAndJoin(api, sessions[s].id, bySession[s].slice(0, 1), 1);
      await seedJoins(seed, sessions[s], bySession[s].slice(1));
    }
    await mapLimit(sessions, 8, (s) => api.lifecycle(trainer.accessToken, s.id, 'start'));
    log('stampede: writing the engine’s final rows to ClickHouse');
    const participants: StampedeParticipant[] = [];
    const expected = new Map<string, number>();
    const ch = createClient({ url: infra.clickhouseUrl });
    try {
      for (let s = 0; s < sessions.length; s++) {
        const played = playSession(sessions[s].id, bySession[s], opts.minutes, s + 1);
        await insertRows(ch, `${isolation.clickhouseDb}.${ClickHouseTable.STANDINGS}`, played.standings);
        await insertRows(ch, `${isolation.clickhouseDb}.${ClickHouseTable.MINUTES}`, played.minutes);
        await insertRows(ch, `${isolation.clickhouseDb}.${ClickHouseTable.SESSION_RESULTS}`, [
          played.session,
        ]);
        for (const a of bySession[s]) {
          participants.push({ userId: a.user.id, token: a.accessToken, sessionId: sessions[s].id });
          expected.set(a.user.id, played.scores.get(a.user.id)!);
        }
      }
    } finally {
      await ch.close();
    }
    log('stampede: ending the sessions; each participant asks the moment its session has ended');
    const ended = new Map(sessions.map((s) => [s.id, deferred<number>()]));
    // Every trainer ends its own class at the top of the hour: all at once, as 500 apps would.
    const ending = mapLimit(sessions, sessions.length, async (s) => {
      await api.lifecycle(trainer.accessToken, s.id, 'end');
      ended.get(s.id)!.resolve(Date.now());
    });
    // Together: a failed end rejects at once instead of leaving its participants waiting.
    const [result] = await Promise.all([
      runStampede(
        open.target.apiUrl,
        participants,
        (id) => ended.get(id)!.promise,
        Promise.resolve(expected),
        {
          ...opts.stampede,
          apiPid: open.pids().api,
        },
      ),
      ending,
    ]);
    const section = stampedeSection(result);
    return {
      name: opts.name,
      mode: 'stampede',
      command: opts.command,
      startedAt,
      finishedAt: new Date().toISOString(),
      checks: section.checks,
      tables: section.tables,
      charts: [],
      data: { source: 'seeded', sessions: opts.sessions, participants: opts.participants, result },
    };
  } finally {
    await open.close();
  }
}

/**
 * What the engine writes when it freezes a session (contracts' ClickHouse storage): standings ranked by
 * score (ties by the order reached), per-minute buckets, the session row with `final = 1`, one version.
 */
function playSession(sessionId: string, accounts: readonly Account[], minutes: number, seed: number) {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const version = 1;
  const minuteRows: MinuteRow[] = [];
  const users = accounts.map((acc, order) => {
    let sumCenti = 0;
    let kcal = 0;
    for (let m = 0; m < minutes; m++) {
      let sum = 0;
      let max = 0;
      for (let k = 0; k < SAMPLES_PER_MINUTE; k++) {
        const centi = Math.floor(random() * 10_001);
        sum += centi;
        max = Math.max(max, centi);
      }
      const avg = sum / SAMPLES_PER_MINUTE / 100;
      kcal += ((1 + (11 * avg) / 100) * 3.5 * 70) / 200;
      sumCenti += sum;
      minuteRows.push({
        session_id: sessionId,
        user_id: acc.user.id,
        minute: m,
        avg_energy: Math.round(avg * 100) / 100,
        max_energy: max / 100,
        samples: SAMPLES_PER_MINUTE,
        version,
        sum_centi: sum,
      });
    }
    const samples = minutes * SAMPLES_PER_MINUTE;
    return { acc, order, sumCenti, samples, calories: Math.round(kcal * 100) / 100 };
  });
  users.sort((x, y) => y.sumCenti - x.sumCenti || x.order - y.order);
  const standings: StandingRow[] = users.map((u, i) => ({
    session_id: sessionId,
    user_id: u.acc.user.id,
    name: u.acc.user.name,
    rank: i + 1,
    participants: users.length,
    score: u.sumCenti / 100,
    calories: u.calories,
    avg_energy: u.samples === 0 ? 0 : Math.round(u.sumCenti / u.samples) / 100,
    samples: u.samples,
    final: 1,
    version,
    band: '',
  }));
  const session: SessionResultRow = {
    session_id: sessionId,
    participants: users.length,
    final: 1,
    updated_at: Math.floor(Date.now() / 1000),
    version,
  };
  return {
    standings,
    minutes: minuteRows,
    session,
    scores: new Map(users.map((u) => [u.acc.user.id, u.sumCenti / 100])),
  };
}

async function insertRows(ch: ReturnType<typeof createClient>, table: string, rows: object[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CH_INSERT_ROWS)
    await ch.insert({ table, values: rows.slice(i, i + CH_INSERT_ROWS), format: 'JSONEachRow' });
}
