import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import jwt from 'jsonwebtoken';
import {
  JOIN_TICKET,
  LIVE_PATH,
  clickhouseSchema,
  natsNames,
  ratingMsgId,
  type NatsNames,
  type SessionEventType,
  type SessionSnapshot,
} from '@pulse/contracts';
import { REPO_ROOT, STACK_JOIN_TICKET_SECRET } from '../../../src/stack.js';
import { ServiceProcess, type ServiceKind } from '../../../src/stack/service-process.js';
import { freePort, waitFor } from './servers.js';

/** One fault test's pipeline: a NATS namespace and ClickHouse database on the given servers, and its services. */
export class FaultWorld {
  readonly names: NatsNames;
  readonly db: string;
  readonly logDir: string;
  private readonly services: ServiceProcess[] = [];

  private constructor(
    readonly natsUrl: string,
    readonly clickhouseUrl: string,
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly ch: ClickHouseClient,
    tag: string,
  ) {
    this.names = natsNames(`f${tag}`);
    this.db = `f_${tag}`;
    this.logDir = path.join(tmpdir(), `pulse-faults-${tag}`);
    mkdirSync(this.logDir, { recursive: true });
  }

  static async open(natsUrl: string, clickhouseUrl: string): Promise<FaultWorld> {
    const tag = randomUUID().replace(/-/g, '').slice(0, 10);
    const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    const ch = createClient({ url: clickhouseUrl, request_timeout: 10_000 });
    const world = new FaultWorld(natsUrl, clickhouseUrl, nc, await jetstreamManager(nc), ch, tag);
    for (const statement of clickhouseSchema(world.db)) await ch.command({ query: statement });
    return world;
  }

  /** Starts a compiled service as a child process pointed at this world; resolves once /readyz is 200. */
  async start(kind: ServiceKind, env: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    const name = `${kind}-${this.services.length + 1}`;
    const common = {
      NATS_URL: this.natsUrl,
      NATS_NAMESPACE: this.names.namespace,
      CLICKHOUSE_URL: this.clickhouseUrl,
      CLICKHOUSE_DB: this.db,
      JOIN_TICKET_SECRET: STACK_JOIN_TICKET_SECRET,
      LOG_LEVEL: 'info',
    };
    const portVar = kind === 'gateway' ? 'GATEWAY_PORT' : kind === 'api' ? 'API_PORT' : 'ENGINE_PORT';
    const spec = { name, kind, port, env: { ...common, [portVar]: String(port), ...env } };
    const service = new ServiceProcess(spec, REPO_ROOT, path.join(this.logDir, `${name}.log`));
    this.services.push(service);
    await service.start();
    return service;
  }

  async publishEvent(session: SessionSnapshot, type: SessionEventType): Promise<void> {
    const event = { eventId: randomUUID(), type, at: new Date().toISOString(), session };
    await jetstream(this.nc).publish(this.names.sessionEvent(session.id), JSON.stringify(event));
  }

  /** Publishes ratings straight into JetStream as a gateway would (msg id per user and seq). */
  async publishRatings(sessionId: string, ratings: Array<{ userId: string; seq: number; energy: number }>) {
    const js = jetstream(this.nc);
    await Promise.all(
      ratings.map((r) =>
        js.publish(
          this.names.rating(sessionId, r.userId),
          JSON.stringify({ kind: 'rating', sessionId, ...r, ts: Date.now() }),
          { msgID: ratingMsgId(sessionId, r.userId, r.seq) },
        ),
      ),
    );
  }

  async publishParticipant(sessionId: string, userId: string, name: string): Promise<void> {
    const message = { kind: 'participant', sessionId, userId, name, weightKg: 70, ts: Date.now() };
    await jetstream(this.nc).publish(this.names.participant(sessionId, userId), JSON.stringify(message));
  }

  async query<T>(sql: string): Promise<T[]> {
    const rs = await this.ch.query({
      query: sql,
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    return rs.json<T>();
  }

  /** Raw rating rows of a session: all physical rows, distinct (user, seq) after FINAL. */
  async ratingCounts(sessionId: string): Promise<{ physical: number; final: number; distinct: number }> {
    const where = `WHERE session_id = '${sessionId}'`;
    const [{ n }] = await this.query<{ n: number }>(`SELECT count() AS n FROM ${this.db}.ratings ${where}`);
    const [{ f, d }] = await this.query<{ f: number; d: number }>(
      `SELECT count() AS f, uniqExact(user_id, seq) AS d FROM ${this.db}.ratings FINAL ${where}`,
    );
    return { physical: Number(n), final: Number(f), distinct: Number(d) };
  }

  /** Waits for `session_results.final = 1` and returns the final standings by user. */
  async finalStandings(sessionId: string, timeoutMs = 60_000) {
    await waitFor(
      'final session results',
      async () => {
        const r = await this.query<{ f: number }>(
          `SELECT final AS f FROM ${this.db}.session_results FINAL WHERE session_id = '${sessionId}'`,
        );
        return r.length === 1 && Number(r[0].f) === 1 ? true : undefined;
      },
      timeoutMs,
      200,
    );
    const rows = await this.query<{ user_id: string; score: number; samples: number }>(
      `SELECT user_id, score, samples FROM ${this.db}.standings FINAL WHERE session_id = '${sessionId}'`,
    );
    return new Map(rows.map((r) => [r.user_id, { score: Number(r.score), samples: Number(r.samples) }]));
  }

  async close(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop(5_000).catch(() => undefined)));
    if (!this.nc.isClosed()) {
      for (const s of [this.names.ratingsStream, this.names.eventsStream, `KV_${this.names.enginesBucket}`])
        await this.jsm.streams.delete(s).catch(() => false);
      await this.nc.close();
    }
    await this.ch.command({ query: `DROP DATABASE IF EXISTS ${this.db}` }).catch(() => undefined);
    await this.ch.close();
  }
}

export function liveSession(startedAt = new Date()): SessionSnapshot {
  return {
    id: randomUUID(),
    trainerId: randomUUID(),
    title: 'Fault drill',
    type: 'hiit',
    status: 'live',
    startsAt: startedAt.toISOString(),
    durationMinutes: 30,
    capacity: 1000,
    startedAt: startedAt.toISOString(),
    endedAt: null,
    cancelledAt: null,
  };
}

export function endedSession(session: SessionSnapshot): SessionSnapshot {
  return { ...session, status: 'ended', endedAt: new Date().toISOString() };
}

export function joinTicket(session: SessionSnapshot, userId: string, name: string): string {
  const claims = {
    sub: userId,
    sid: session.id,
    role: 'trainee',
    name,
    weightKg: 70,
    startsAt: session.startsAt,
  };
  return jwt.sign(claims, STACK_JOIN_TICKET_SECRET, {
    algorithm: JOIN_TICKET.algorithm,
    issuer: JOIN_TICKET.issuer,
    audience: JOIN_TICKET.audience,
    expiresIn: 600,
  });
}

export const wsUrl = (gateway: ServiceProcess) => `ws://127.0.0.1:${gateway.spec.port}${LIVE_PATH}`;

/** Whole-number energies so a score is an exact sum. */
export const energyOf = (userIndex: number, seq: number) => (seq * 7 + userIndex * 13) % 101;
