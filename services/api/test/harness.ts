/* eslint-disable @typescript-eslint/no-explicit-any -- test replies are untyped JSON */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Redis } from 'ioredis';
import type Koa from 'koa';
import { pino, type Logger } from 'pino';
import { natsNames } from '@pulse/contracts';
import type { NatsNames } from '@pulse/contracts';
import { buildApi } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Config } from '../src/config.js';
import { openDatabase } from '../src/db/orm.js';
import { applyClickHouseSchema, openClickHouse } from '../src/infra/clickhouse.js';
import type { ClickHouseClient } from '../src/infra/clickhouse.js';
import { DEFAULT_STREAM_SETTINGS, ensureFollowsBucket, ensureStreams } from '@pulse/runtime';
import { OutboxPublisher } from '../src/outbox/outbox-publisher.js';
import { FreezeWatch } from '../src/results/freeze-watch.js';
import { ResultsFreezer } from '../src/results/results-freeze.js';
import { AccessTokens } from '../src/accounts/tokens.js';
import { User } from '../src/accounts/user.entity.js';
import type { Role } from '../src/accounts/user.entity.js';
import { hashPassword } from '../src/accounts/passwords.js';

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}
export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Sent as is, with content-type application/json unless `headers` says otherwise. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}
export interface TestUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  token: string;
}

export interface StartOptions {
  /** Run the outbox publisher (default true). */
  publisher?: boolean;
  logger?: Logger;
  /** Adds test-only middleware after the API's own (so it runs inside every API middleware). */
  extend?: (app: Koa, api: TestApi) => void;
}

/** One isolated API: its own PostgreSQL schema, NATS namespace, ClickHouse database and Redis prefix. */
export class TestApi {
  readonly id = randomBytes(4).toString('hex');
  readonly names: NatsNames = natsNames(`t${this.id}`);
  config!: Config;
  orm!: MikroORM;
  nats!: NatsConnection;
  redis!: Redis;
  clickhouse!: ClickHouseClient;
  outbox!: OutboxPublisher;
  freezer!: ResultsFreezer;
  freezeWatch!: FreezeWatch;
  server!: Server;
  url!: string;
  private tokens!: AccessTokens;
  private static passwordHash: Promise<string> | undefined;

  static async start(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestApi> {
    const api = new TestApi();
    await api.open(env, options);
    return api;
  }

  private async open(env: Record<string, string>, options: StartOptions): Promise<void> {
    const startPublisher = options.publisher ?? true;
    const log = options.logger;
    this.config = loadConfig({
      DATABASE_SCHEMA: `t_api_${this.id}`,
      NATS_NAMESPACE: this.names.namespace,
      CLICKHOUSE_DB: `t_${this.id}`,
      REDIS_KEY_PREFIX: `t:${this.id}:`,
      OUTBOX_POLL_MS: '200',
      LOG_LEVEL: 'silent',
      // Every test signs its users up from 127.0.0.1; the registration limit has its own test.
      REGISTER_MAX_PER_IP: '100000',
      ...env,
    });
    const logger = log ?? pino({ level: this.config.LOG_LEVEL });
    this.orm = await openDatabase({
      url: this.config.DATABASE_URL,
      schema: this.config.DATABASE_SCHEMA,
      poolMax: 20,
      statementTimeoutMs: this.config.DATABASE_STATEMENT_TIMEOUT_MS,
    });
    this.nats = await connect({ servers: this.config.NATS_URL });
    const jsm = await jetstreamManager(this.nats);
    await ensureStreams(jsm, this.names, DEFAULT_STREAM_SETTINGS);
    await ensureFollowsBucket(jsm, this.names, DEFAULT_STREAM_SETTINGS);
    this.redis = new Redis(this.config.REDIS_URL, { maxRetriesPerRequest: 1 });
    this.clickhouse = openClickHouse(this.config.CLICKHOUSE_URL);
    await applyClickHouseSchema(this.clickhouse, this.config.CLICKHOUSE_DB);
    this.outbox = new OutboxPublisher(
      this.orm,
      jetstream(this.nats),
      this.names,
      logger,
      this.config.OUTBOX_POLL_MS,
    );
    if (startPublisher) this.outbox.start();
    this.freezer = new ResultsFreezer(this.orm, this.clickhouse, this.config.CLICKHOUSE_DB, logger);
    this.freezeWatch = new FreezeWatch(this.freezer, this.orm, this.nats, this.names, logger);
    this.freezeWatch.start();
    const app = buildApi({
      config: this.config,
      logger,
      orm: this.orm,
      nats: this.nats,
      redis: this.redis,
      clickhouse: this.clickhouse,
      outbox: this.outbox,
      freezer: this.freezer,
      freezeWatch: this.freezeWatch,
    });
    options.extend?.(app, this);
    this.server = createServer(app.callback());
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.tokens = new AccessTokens(this.config.JWT_ACCESS_SECRET, this.config.ACCESS_TOKEN_TTL_SEC);
  }

  async close(): Promise<void> {
    await this.outbox.stop();
    await this.freezeWatch.stop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    const jsm = await jetstreamManager(this.nats);
    for (const stream of [
      this.names.ratingsStream,
      this.names.eventsStream,
      `KV_${this.names.followsBucket}`,
    ]) {
      await jsm.streams.delete(stream).catch(() => undefined);
    }
    await this.nats.close();
    await this.orm.em
      .getConnection()
      .execute(`drop schema if exists "${this.config.DATABASE_SCHEMA}" cascade`);
    await this.orm.close(true);
    await this.clickhouse.command({ query: `DROP DATABASE IF EXISTS ${this.config.CLICKHOUSE_DB}` });
    await this.clickhouse.close();
    const keys = await this.redis.keys(`${this.config.REDIS_KEY_PREFIX}*`);
    if (keys.length > 0) await this.redis.del(...keys);
    this.redis.disconnect();
  }

  async call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: string | Buffer | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && headers['content-type'] === undefined)
      headers['content-type'] = 'application/json';
    const res = await fetch(`${this.url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text.length > 0)
      parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  /** Signs up through the API (argon2 and all). */
  async signup(
    role: Role,
    name = `${role}-${randomBytes(3).toString('hex')}`,
    weightKg?: number,
  ): Promise<TestUser> {
    const email = `${name}@example.test`;
    const res = await this.call('POST', '/v1/auth/register', {
      body: {
        email,
        password: 'correct horse battery',
        name,
        role,
        ...(weightKg === undefined ? {} : { weightKg }),
      },
    });
    if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.user.id, email, name, role, token: res.body.accessToken };
  }

  /** A user inserted directly (one shared password hash) — for fixtures that need many accounts fast. */
  async user(
    role: Role,
    name = `${role}-${randomBytes(3).toString('hex')}`,
    weightKg: number | null = null,
  ): Promise<TestUser> {
    TestApi.passwordHash ??= hashPassword('correct horse battery');
    const user = Object.assign(new User(), {
      email: `${name}@example.test`.toLowerCase(),
      name,
      role,
      weightKg,
      passwordHash: await TestApi.passwordHash,
    });
    await this.orm.em.fork().persistAndFlush(user);
    return { id: user.id, email: user.email, name, role, token: this.tokens.sign(user.id, role) };
  }

  /** Creates a session through the API, starting `inMinutes` from now. */
  async session(trainer: TestUser, overrides: Record<string, unknown> = {}): Promise<any> {
    const res = await this.call('POST', '/v1/sessions', {
      token: trainer.token,
      body: {
        title: 'Morning HIIT',
        type: 'hiit',
        startsAt: new Date(Date.now() + 3_600_000).toISOString(),
        durationMinutes: 45,
        capacity: 10,
        ...overrides,
      },
    });
    if (res.status !== 201) throw new Error(`session failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }
}

/** `probe`'s first value other than undefined, asked every 50 ms; throws after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
