import { randomUUID } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  clickhouseSchema,
  natsNames,
  participantMsgId,
  RankSnapshot,
  ratingMsgId,
  type NatsNames,
  type ParticipantMessage,
  type RatingMessage,
  type SessionEvent,
  type SessionEventType,
  type SessionSnapshot,
} from '@pulse/contracts';
import { DEFAULT_STREAM_SETTINGS, ensureStreams } from '@pulse/runtime';

export const NATS_URL = 'nats://127.0.0.1:4222';
export const CLICKHOUSE_URL = 'http://127.0.0.1:8123';

/** One test's own namespace, ClickHouse database and connections; `close()` removes them all. */
export interface Infra {
  readonly namespace: string;
  readonly db: string;
  readonly names: NatsNames;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly ch: ClickHouseClient;
  close(): Promise<void>;
}

export async function openInfra(): Promise<Infra> {
  const tag = randomUUID().replace(/-/g, '').slice(0, 12);
  const namespace = `t${tag}`;
  const db = `t_${tag}`;
  const names = natsNames(namespace);
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, names, DEFAULT_STREAM_SETTINGS);
  const ch = createClient({ url: CLICKHOUSE_URL });
  for (const statement of clickhouseSchema(db)) await ch.command({ query: statement });
  return {
    namespace,
    db,
    names,
    nc,
    js: jetstream(nc),
    jsm,
    ch,
    async close() {
      const stores = [`KV_${names.enginesBucket}`, `OBJ_${names.checkpointsBucket}`];
      for (const s of [names.ratingsStream, names.eventsStream, ...stores])
        await jsm.streams.delete(s).catch(() => false);
      await ch.command({ query: `DROP DATABASE IF EXISTS ${db}` });
      await ch.close();
      await nc.drain();
    },
  };
}

export function sessionSnapshot(
  id: string,
  status: SessionSnapshot['status'],
  startedAtMs: number,
): SessionSnapshot {
  const started = new Date(startedAtMs).toISOString();
  return {
    id,
    trainerId: '00000000-0000-4000-8000-000000000001',
    title: 'Spin',
    type: 'cycling',
    status,
    startsAt: started,
    durationMinutes: 45,
    capacity: 500,
    startedAt: status === 'scheduled' || status === 'cancelled' ? null : started,
    endedAt: status === 'ended' ? new Date(startedAtMs + 60_000).toISOString() : null,
    cancelledAt: status === 'cancelled' ? started : null,
  };
}

const STATUS_OF: Record<SessionEventType, SessionSnapshot['status']> = {
  created: 'scheduled',
  rescheduled: 'scheduled',
  started: 'live',
  ended: 'ended',
  cancelled: 'cancelled',
};

/** Publishes a lifecycle event as the API would. */
export async function publishEvent(
  infra: Infra,
  type: SessionEventType,
  sessionId: string,
  startedAtMs: number,
) {
  const event: SessionEvent = {
    eventId: randomUUID(),
    type,
    at: new Date().toISOString(),
    session: sessionSnapshot(sessionId, STATUS_OF[type], startedAtMs),
  };
  await infra.js.publish(infra.names.sessionEvent(sessionId), JSON.stringify(event), {
    msgID: event.eventId,
  });
}

export async function publishParticipant(
  infra: Infra,
  sessionId: string,
  userId: string,
  name: string,
  weightKg: number,
) {
  const msg: ParticipantMessage = { kind: 'participant', sessionId, userId, name, weightKg, ts: Date.now() };
  await infra.js.publish(infra.names.participant(sessionId, userId), JSON.stringify(msg), {
    msgID: participantMsgId(sessionId, userId),
  });
}

/** Publishes ratings as the gateway would (message id per (session, user, seq)); `withMsgId: false` bypasses JetStream's dedup. */
export async function publishRatings(infra: Infra, ratings: RatingMessage[], withMsgId = true) {
  for (let i = 0; i < ratings.length; i += 200) {
    await Promise.all(
      ratings.slice(i, i + 200).map((r) =>
        infra.js.publish(infra.names.rating(r.sessionId, r.userId), JSON.stringify(r), {
          msgID: withMsgId ? ratingMsgId(r.sessionId, r.userId, r.seq) : undefined,
        }),
      ),
    );
  }
}

export async function chRows<T>(infra: Infra, query: string): Promise<T[]> {
  const rs = await infra.ch.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}

/** Collects the latest complete full snapshot (all chunks of one tick; deltas skipped) published for a session. */
export function watchRanks(infra: Infra, sessionId: string) {
  const latest: { chunks: RankSnapshot[] } = { chunks: [] };
  let building: RankSnapshot[] = [];
  const sub = infra.nc.subscribe(infra.names.ranks(sessionId), {
    callback: (_err, msg) => {
      const snap = RankSnapshot.parse(msg.json());
      if (snap.delta === true) return;
      if (snap.chunk === 0) building = [];
      building.push(snap);
      if (building.length === snap.chunks) latest.chunks = building;
    },
  });
  return { latest, stop: () => sub.unsubscribe() };
}
