import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { AGE_BANDS, natsNames, type AgeBand, type FollowSet } from '@pulse/contracts';
import type { Account, ApiClient } from './rest.js';

/** What the API's access tokens are (services/api/src/accounts/tokens.ts): HS256, issuer = audience = pulse-api. */
const ACCESS = { algorithm: 'HS256', issuer: 'pulse-api', audience: 'pulse-api' } as const;
const INSERT_BATCH = 1_000;
const TOKEN_TTL_SEC = 6 * 3600;
/** Every seeded trainee weighs this much (their join tickets say the same). */
export const SEEDED_WEIGHT_KG = 70;

export interface SeedTarget {
  databaseUrl: string;
  databaseSchema: string;
  /** The stack api's JWT_ACCESS_SECRET. */
  accessSecret: string;
}

/**
 * Trainee accounts for a local stack, fast: one registers over REST (so its argon2 hash is the API's own), the
 * others are inserted into the stack's PostgreSQL schema with that same hash and password, and get access
 * tokens signed with the stack's secret, exactly as the API signs them. 10,000 argon2id registrations take
 * minutes of both cores, which is not what a live run measures; everything after (session registration,
 * join tickets, WebSocket) still goes through the real API and gateways.
 */
export async function seedTrainees(
  api: ApiClient,
  target: SeedTarget,
  count: number,
  prefix = 'Trainee',
): Promise<Account[]> {
  if (count === 0) return [];
  const first = await api.register('trainee', `${prefix} 1`, SEEDED_WEIGHT_KG);
  const client = new pg.Client({ connectionString: target.databaseUrl });
  await client.connect();
  try {
    const table = `"${target.databaseSchema}".app_user`;
    const { rows } = await client.query<{ password_hash: string }>(
      `SELECT password_hash FROM ${table} WHERE id = $1`,
      [first.user.id],
    );
    const hash = rows[0].password_hash;
    const accounts: Account[] = [first];
    const now = new Date();
    for (let start = 1; start < count; start += INSERT_BATCH) {
      const batch: Account[] = [];
      const values: unknown[] = [];
      const tuples: string[] = [];
      for (let i = start; i < Math.min(count, start + INSERT_BATCH); i++) {
        const id = randomUUID();
        const name = `${prefix} ${i + 1}`;
        const email = `${prefix.toLowerCase()}.${i + 1}.${id.slice(0, 8)}@bench.pulse.test`;
        const weightKg = SEEDED_WEIGHT_KG;
        const p = values.length;
        tuples.push(`($${p + 1}, $${p + 2}, $${p + 3}, 'trainee', $${p + 4}, $${p + 5}, $${p + 6})`);
        values.push(id, email, name, weightKg, hash, now);
        const accessToken = jwt.sign({ role: 'trainee' }, target.accessSecret, {
          ...ACCESS,
          subject: id,
          expiresIn: TOKEN_TTL_SEC,
        });
        batch.push({
          user: { id, email, name, role: 'trainee' },
          accessToken,
          refreshToken: '',
          password: first.password,
        });
      }
      await client.query(
        `INSERT INTO ${table} (id, email, name, role, weight_kg, password_hash, created_at) VALUES ${tuples.join(',')}`,
        values,
      );
      accounts.push(...batch);
    }
    return accounts;
  } finally {
    await client.end();
  }
}

const JOIN = { algorithm: 'HS256', issuer: 'pulse-api', audience: 'pulse-gateway' } as const;

export interface SeededJoin {
  userId: string;
  ticket: string;
  gatewayUrl?: undefined;
}

/**
 * Registers seeded trainees for a session straight in the stack's PostgreSQL (status `registered`, joined)
 * and signs their join tickets with the stack's join secret, with the claims the API puts in them
 * (services/api/src/registrations/join-ticket.ts; contracts' JoinTicketClaims). The gateways verify these
 * tickets exactly as they verify the API's.
 */
export async function seedJoins(
  target: SeedTarget & { joinSecret: string },
  session: { id: string; startsAt: string },
  accounts: readonly Account[],
  /** Each trainee's age band on the session's boards (issue 16), as the API puts it in an opted-in ticket. */
  bandOf?: (index: number) => AgeBand,
): Promise<SeededJoin[]> {
  const client = new pg.Client({ connectionString: target.databaseUrl });
  await client.connect();
  const out: SeededJoin[] = [];
  try {
    const table = `"${target.databaseSchema}".registration`;
    const now = new Date();
    for (let start = 0; start < accounts.length; start += INSERT_BATCH) {
      const values: unknown[] = [];
      const tuples: string[] = [];
      for (let i = start; i < Math.min(accounts.length, start + INSERT_BATCH); i++) {
        const a = accounts[i];
        const p = values.length;
        tuples.push(`($${p + 1}, $${p + 2}, $${p + 3}, 'registered', $${p + 4}, $${p + 4}, $${p + 4})`);
        values.push(randomUUID(), session.id, a.user.id, now);
        const ticket = jwt.sign(
          {
            sid: session.id,
            role: 'trainee',
            name: a.user.name,
            weightKg: SEEDED_WEIGHT_KG,
            startsAt: session.startsAt,
            ...(bandOf ? { band: bandOf(i) } : {}),
          },
          target.joinSecret,
          { ...JOIN, subject: a.user.id, expiresIn: TOKEN_TTL_SEC },
        );
        out.push({ userId: a.user.id, ticket });
      }
      await client.query(
        `INSERT INTO ${table} (id, session_id, trainee_id, status, queued_at, joined_at, created_at) VALUES ${tuples.join(',')}`,
        values,
      );
    }
    return out;
  } finally {
    await client.end();
  }
}

/** The band a seeded trainee is given when the run has filters on: the bands in turn. */
export const seededBand = (index: number): AgeBand => AGE_BANDS[index % AGE_BANDS.length].id;

/**
 * Whom each seeded trainee follows (issue 16), written where the API's outbox writes it: the follows KV bucket
 * of the stack's namespace (created by the gateways and the API at start). Trainee i of a session follows the
 * next `follows` trainees of the same session.
 */
export async function seedFollows(
  natsUrl: string,
  namespace: string,
  sessions: ReadonlyArray<readonly Account[]>,
  follows: number,
): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  let written = 0;
  try {
    const js = jetstream(nc);
    const bucket = natsNames(namespace).followsBucket;
    for (const members of sessions) {
      const n = members.length;
      const acks: Array<Promise<unknown>> = [];
      for (let i = 0; i < n; i++) {
        const set: FollowSet = { following: [] };
        for (let k = 1; k <= Math.min(follows, n - 1); k++) {
          const f = members[(i + k) % n].user;
          set.following.push({ userId: f.id, name: f.name });
        }
        acks.push(js.publish(`$KV.${bucket}.${members[i].user.id}`, JSON.stringify(set)));
        written++;
        if (acks.length >= 256) await Promise.all(acks.splice(0));
      }
      await Promise.all(acks);
    }
  } finally {
    await nc.close();
  }
  return written;
}
