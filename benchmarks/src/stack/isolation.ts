import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { clickhouseSchema, natsNames } from '@pulse/contracts';

/** Where the shared infrastructure answers; defaults are the local machine's servers. */
export interface InfraUrls {
  databaseUrl: string;
  natsUrl: string;
  clickhouseUrl: string;
  redisUrl: string;
}

export const DEFAULT_INFRA: InfraUrls = Object.freeze({
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/pulse',
  natsUrl: 'nats://127.0.0.1:4222',
  clickhouseUrl: 'http://127.0.0.1:8123',
  redisUrl: 'redis://127.0.0.1:6379',
});

/** The names one stack owns alone, so that parallel runs never see each other's data. */
export interface Isolation {
  natsNamespace: string;
  databaseSchema: string;
  clickhouseDb: string;
}

export function uniqueIsolation(prefix = 'b'): Isolation {
  const id = `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`.toLowerCase();
  return { natsNamespace: id, databaseSchema: `s_${id}`, clickhouseDb: `c_${id}` };
}

/** The Redis key prefix the api of a stack uses (rate limiters), derived from the namespace. */
export const redisKeyPrefix = (iso: Isolation) => `pulse:${iso.natsNamespace}:`;

/** Creates the PostgreSQL schema and ClickHouse database up front (idempotent; services may do it too). */
export async function prepareIsolation(infra: InfraUrls, iso: Isolation): Promise<void> {
  const client = new pg.Client({ connectionString: infra.databaseUrl });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${iso.databaseSchema}"`);
  } finally {
    await client.end();
  }
  const ch = createClient({ url: infra.clickhouseUrl });
  try {
    for (const ddl of clickhouseSchema(iso.clickhouseDb)) await ch.command({ query: ddl });
  } finally {
    await ch.close();
  }
}

/** Drops everything the stack created; each step runs even when another fails. */
export async function dropIsolation(infra: InfraUrls, iso: Isolation): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
    }
  };
  await attempt('postgres', async () => {
    const client = new pg.Client({ connectionString: infra.databaseUrl });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${iso.databaseSchema}" CASCADE`);
    } finally {
      await client.end();
    }
  });
  await attempt('clickhouse', async () => {
    const ch = createClient({ url: infra.clickhouseUrl });
    try {
      await ch.command({ query: `DROP DATABASE IF EXISTS ${iso.clickhouseDb}` });
    } finally {
      await ch.close();
    }
  });
  await attempt('nats', async () => {
    const nc = await connect({ servers: infra.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      // Every stream of the namespace: ratings, events, and the KV / object-store buckets the services made
      // (JetStream reserves each one's max_bytes against the server's store until it is deleted).
      const prefix = natsNames(iso.natsNamespace).ratingsStream.replace(/RATINGS$/, '');
      const mine = (name: string) =>
        [prefix, `KV_${prefix}`, `OBJ_${prefix}`].some((p) => name.startsWith(p));
      for await (const name of jsm.streams.names()) {
        if (!mine(name)) continue;
        await jsm.streams.delete(name).catch((err: Error) => {
          if (!/not found/i.test(err.message)) throw err;
        });
      }
    } finally {
      await nc.close();
    }
  });
  await attempt('redis', async () => {
    const redis = new Redis(infra.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisKeyPrefix(iso)}*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });
  return problems;
}
