import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import pg from 'pg';
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
