import { z } from 'zod';
import { DeviceAttempt, DeviceId, TopEntry } from './frames.js';
import { AgeBandId, BAND_TOP_SIZE } from './social.js';

/**
 * Every subject and stream lives under a namespace so that tests (and several deployments sharing one
 * NATS) never collide. Production uses the default.
 */
export const DEFAULT_NATS_NAMESPACE = 'pulse';
const NAMESPACE_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Ratings partitions (issue 12): every session belongs to one, `partitionOf(sessionId)`. An engine consumes
 * whole partitions (one durable consumer each) and ownership moves whole partitions, so neither NATS's
 * consumers nor a session's start cost anything per session. 16 keeps a partition's share of a 500-session
 * hour small while NATS holds only 16 filtered consumers (MACHINE-FACTS: 500 per-session consumers saturate
 * NATS 2.9.10; 16 partition consumers carried 10k ratings/s). Changing it renames every rating subject.
 */
export const RATING_PARTITIONS = 16;

/** The partition of a session: FNV-1a (32 bit) of its id, modulo RATING_PARTITIONS. */
export function partitionOf(sessionId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) {
    hash ^= sessionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % RATING_PARTITIONS;
}

/** The token after the partition that marks a batch subject (a session id is a UUID, never this). */
export const RATING_BATCH_TOKEN = 'batch';
/** The token after the partition that marks a gateway's end barrier of a session (see EndBarrierMessage). */
export const RATING_BARRIER_TOKEN = 'barrier';

/** An id as one subject token: characters other than letters, digits, `_` and `-` become `_`. */
export const subjectToken = (id: string): string => id.replace(/[^A-Za-z0-9_-]/g, '_');

export interface NatsNames {
  readonly namespace: string;
  /** JetStream stream holding every rating and participant message, split by partition, session and user. */
  readonly ratingsStream: string;
  /** JetStream stream holding session lifecycle events; the last one per session is its current state. */
  readonly eventsStream: string;
  /** Subject of one user's ratings in one session; its last message gives the user's stored `lastSeq`. */
  rating(sessionId: string, userId: string): string;
  /** Subject of one user's participant message (kept apart so the last rating stays addressable). */
  participant(sessionId: string, userId: string): string;
  /** Filter for all live messages of one session. */
  sessionRatings(sessionId: string): string;
  /** Filter for all live messages of the sessions of one partition (its engine consumer uses it). */
  partitionRatings(partition: number): string;
  /** Subject of one gateway's rating batches of one partition (see rating-batch.ts). */
  ratingBatch(partition: number, gatewayId: string): string;
  /** Subject of one gateway's end barriers of the sessions of one partition (see EndBarrierMessage). */
  ratingBarrier(partition: number, gatewayId: string): string;
  /** Core NATS subject on which the engine owning a partition answers LastSeqRequests. */
  lastSeqRequest(partition: number): string;
  /** Every partition's lastSeq request subject (permissions). */
  readonly allLastSeqRequests: string;
  readonly allRatings: string;
  sessionEvent(sessionId: string): string;
  readonly allSessionEvents: string;
  /**
   * Subject of one trainee's registration changes in one session (in the events stream); its last
   * message says whether the trainee holds a seat, so a gateway can refuse a ticket issued before an
   * `unregistered`. Outside `allSessionEvents`, so lifecycle consumers never see these.
   */
  registrationEvent(sessionId: string, userId: string): string;
  readonly allRegistrationEvents: string;
  /** Core NATS subject of the engine's rank snapshots of one session. */
  ranks(sessionId: string): string;
  /** Core NATS subject on which gateways share how many clients of a session they hold. */
  presence(sessionId: string): string;
  /** Every session's presence subject (the engine reads them to know whose end barrier to wait for). */
  readonly allPresence: string;
  /** Core NATS subject on which a gateway announces a trainee's newest connection (older ones close, 4409). */
  takeover(sessionId: string): string;
  /**
   * Core NATS subject on which the engine says it stored a session's final results in ClickHouse
   * (ResultsFinal); the API freezes them at once instead of at its next poll. A hint: what counts is the
   * session row's `final` in ClickHouse, which the API reads before freezing.
   */
  resultsFinal(sessionId: string): string;
  readonly allResultsFinal: string;
  /** Durable consumer through which the owning engine reads (and acks) one partition's messages. */
  partitionConsumer(partition: number): string;
  /** JetStream KV bucket of the live engines: membership heartbeats and one lease per owned session. */
  readonly enginesBucket: string;
  /**
   * JetStream KV bucket of whom each trainee follows (issue 16): key = the follower's id, value = a FollowSet,
   * written by the API (through its outbox) on every follow change; gateways read a connecting trainee's set
   * and watch for changes, so a follow applies from the next rank frame.
   */
  readonly followsBucket: string;
  /** JetStream object store of the live engines' partition checkpoints (one object per ratings partition). */
  readonly checkpointsBucket: string;
}

export function natsNames(namespace: string = DEFAULT_NATS_NAMESPACE): NatsNames {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`NATS namespace "${namespace}" must match ${NAMESPACE_PATTERN}`);
  }
  const upper = namespace.toUpperCase().replace(/-/g, '_');
  return Object.freeze({
    namespace,
    ratingsStream: `${upper}_RATINGS`,
    eventsStream: `${upper}_SESSION_EVENTS`,
    rating: (sessionId: string, userId: string) =>
      `${namespace}.ratings.${partitionOf(sessionId)}.${sessionId}.${userId}`,
    participant: (sessionId: string, userId: string) =>
      `${namespace}.ratings.${partitionOf(sessionId)}.${sessionId}.${userId}.joined`,
    sessionRatings: (sessionId: string) => `${namespace}.ratings.${partitionOf(sessionId)}.${sessionId}.>`,
    partitionRatings: (partition: number) => `${namespace}.ratings.${partition}.>`,
    ratingBatch: (partition: number, gatewayId: string) =>
      `${namespace}.ratings.${partition}.${RATING_BATCH_TOKEN}.${subjectToken(gatewayId)}`,
    ratingBarrier: (partition: number, gatewayId: string) =>
      `${namespace}.ratings.${partition}.${RATING_BARRIER_TOKEN}.${subjectToken(gatewayId)}`,
    lastSeqRequest: (partition: number) => `${namespace}.engine.last-seq.${partition}`,
    allLastSeqRequests: `${namespace}.engine.last-seq.*`,
    allRatings: `${namespace}.ratings.>`,
    sessionEvent: (sessionId: string) => `${namespace}.sessions.events.${sessionId}`,
    allSessionEvents: `${namespace}.sessions.events.>`,
    registrationEvent: (sessionId: string, userId: string) =>
      `${namespace}.sessions.registrations.${sessionId}.${userId}`,
    allRegistrationEvents: `${namespace}.sessions.registrations.>`,
    ranks: (sessionId: string) => `${namespace}.ranks.${sessionId}`,
    presence: (sessionId: string) => `${namespace}.presence.${sessionId}`,
    allPresence: `${namespace}.presence.*`,
    takeover: (sessionId: string) => `${namespace}.takeover.${sessionId}`,
    resultsFinal: (sessionId: string) => `${namespace}.results.final.${sessionId}`,
    allResultsFinal: `${namespace}.results.final.*`,
    partitionConsumer: (partition: number) => `engine-p${partition}`,
    enginesBucket: `${upper}_ENGINES`,
    followsBucket: `${upper}_FOLLOWS`,
    checkpointsBucket: `${upper}_CHECKPOINTS`,
  });
}

/** JetStream's duplicate window: a rating resent with the same message id within it is dropped. */
export const RATINGS_DUPLICATE_WINDOW_MS = 2 * 60_000;

/**
 * Stream settings every service applies idempotently on start (plain data: each service hands it to its
 * own JetStream manager). Production raises `num_replicas` to 3 (see k8s/).
 */
export function streamConfigs(names: NatsNames, replicas = 1) {
  return [
    {
      name: names.ratingsStream,
      subjects: [names.allRatings],
      storage: 'file',
      retention: 'limits',
      duplicate_window_ms: RATINGS_DUPLICATE_WINDOW_MS,
      max_age_ms: 7 * 24 * 3_600_000,
      num_replicas: replicas,
    },
    {
      name: names.eventsStream,
      subjects: [names.allSessionEvents, names.allRegistrationEvents],
      storage: 'file',
      retention: 'limits',
      duplicate_window_ms: RATINGS_DUPLICATE_WINDOW_MS,
      max_msgs_per_subject: 10,
      max_age_ms: 90 * 24 * 3_600_000,
      num_replicas: replicas,
    },
  ] as const;
}

/** Message id of a rating: JetStream drops a second publish of the same (session, user, seq). */
export const ratingMsgId = (sessionId: string, userId: string, seq: number): string =>
  `${sessionId}.${userId}.${seq}`;
/** Message id of a participant message; one per user and session is enough. */
export const participantMsgId = (sessionId: string, userId: string): string => `${sessionId}.${userId}.p`;
/** Message id of a gateway's end barrier of a session; one per gateway and session is enough. */
export const endBarrierMsgId = (sessionId: string, gatewayId: string): string =>
  `${sessionId}.${subjectToken(gatewayId)}.end`;

const Uuid = z.string().uuid();
const IsoTime = z.string().datetime({ offset: true });

/** One energy reading, stamped by the gateway (`ts`: epoch milliseconds, server time). */
export const RatingMessage = z.object({
  kind: z.literal('rating'),
  sessionId: Uuid,
  userId: Uuid,
  seq: z.number().int().min(1),
  energy: z.number().min(0).max(100),
  ts: z.number().int(),
});
export type RatingMessage = z.infer<typeof RatingMessage>;

/** Published once a trainee connects: puts them on the leaderboard with their display name and weight. */
export const ParticipantMessage = z.object({
  kind: z.literal('participant'),
  sessionId: Uuid,
  userId: Uuid,
  name: z.string(),
  weightKg: z.number().positive(),
  ts: z.number().int(),
  /** The trainee's age band, when they opted in to age-band boards (from the join ticket, issue 16). */
  band: AgeBandId.optional(),
});
export type ParticipantMessage = z.infer<typeof ParticipantMessage>;

/**
 * The end of a session is a barrier (issue 14): a rating belongs to the session when a gateway received it
 * before that gateway learned of the end. On the `ended` event a gateway refuses new ratings, lets the ones
 * it holds for the session be stored (or refuses them to the device), then publishes this message on its
 * barrier subject of the session's partition. Every rating of the session it stored is therefore ahead of it
 * in the stream, and the engine freezes results only once each gateway that held clients of the session has
 * sent its barrier (or has been silent long enough to be gone).
 */
export const EndBarrierMessage = z.object({
  kind: z.literal('barrier'),
  sessionId: Uuid,
  gatewayId: z.string().min(1),
  ts: z.number().int(),
});
export type EndBarrierMessage = z.infer<typeof EndBarrierMessage>;

export const LiveMessage = z.discriminatedUnion('kind', [
  RatingMessage,
  ParticipantMessage,
  EndBarrierMessage,
]);
export type LiveMessage = z.infer<typeof LiveMessage>;

export const SessionStatus = z.enum(['scheduled', 'live', 'ended', 'cancelled']);
export type SessionStatus = z.infer<typeof SessionStatus>;

export const SessionSnapshot = z.object({
  id: Uuid,
  trainerId: Uuid,
  title: z.string(),
  type: z.string(),
  status: SessionStatus,
  startsAt: IsoTime,
  durationMinutes: z.number().int(),
  capacity: z.number().int(),
  startedAt: IsoTime.nullable(),
  endedAt: IsoTime.nullable(),
  cancelledAt: IsoTime.nullable(),
});
export type SessionSnapshot = z.infer<typeof SessionSnapshot>;

export const SessionEventType = z.enum(['created', 'rescheduled', 'started', 'ended', 'cancelled']);
export type SessionEventType = z.infer<typeof SessionEventType>;

/** A lifecycle change, published by the API after its commit; carries the session's full new state. */
export const SessionEvent = z.object({
  eventId: Uuid,
  type: SessionEventType,
  at: IsoTime,
  session: SessionSnapshot,
});
export type SessionEvent = z.infer<typeof SessionEvent>;

/** The engine stored a session's final results in ClickHouse (on `resultsFinal(sessionId)`, core NATS). */
export const ResultsFinal = z.object({
  sessionId: Uuid,
  participants: z.number().int().nonnegative(),
});
export type ResultsFinal = z.infer<typeof ResultsFinal>;

export const RegistrationEventStatus = z.enum(['registered', 'unregistered']);
export type RegistrationEventStatus = z.infer<typeof RegistrationEventStatus>;

/**
 * A trainee's seat in a session changed, published by the API (through its outbox) on
 * `registrationEvent(sessionId, userId)`: `registered` when the trainee takes a seat (registration,
 * re-registration, promotion from the waitlist), `unregistered` when the registration is cancelled.
 * The last message of the subject is the truth; its JetStream msgID is the event's id.
 */
export const RegistrationEvent = z.object({
  kind: z.literal('registration'),
  sessionId: Uuid,
  userId: Uuid,
  status: RegistrationEventStatus,
  at: IsoTime,
});
export type RegistrationEvent = z.infer<typeof RegistrationEvent>;

/** One age band's board in a rank snapshot: how many are on it and its first BAND_TOP_SIZE. */
export const BandBoard = z.object({
  participants: z.number().int().min(0),
  top: z.array(TopEntry).max(BAND_TOP_SIZE),
});
export type BandBoard = z.infer<typeof BandBoard>;

/** Participants per rank snapshot message, so that one message stays far below NATS's 1 MB limit. */
export const RANK_SNAPSHOT_CHUNK = 4000;

/**
 * The engine's standings of one session at one tick, split into chunks. Columns are parallel arrays:
 * entry i is `userIds[i]` at `ranks[i]` with `scores[i]`, whose highest counted seq is `seqs[i]`.
 */
export const RankSnapshot = z.object({
  sessionId: Uuid,
  tick: z.number().int().min(0),
  at: z.number().int(),
  participants: z.number().int().min(0),
  top: z.array(TopEntry).max(10),
  chunk: z.number().int().min(0),
  chunks: z.number().int().min(1),
  userIds: z.array(z.string()),
  ranks: z.array(z.number().int()),
  scores: z.array(z.number()),
  seqs: z.array(z.number().int()),
  /**
   * true: a delta — only the participants whose own entry (seq, score) changed since the previous snapshot,
   * each with their current rank; everyone else's rank may have moved as well (the next full snapshot, at
   * least once a second, carries everyone). Absent or false: a full snapshot of every participant.
   */
  delta: z.boolean().optional(),
  /**
   * Age-band boards (issue 16), present once a participant of the session opted in: `bandOf[i]` is the index
   * in AGE_BANDS of entry i's band (-1: on no band board) and `bandRanks[i]` its rank there (0: none);
   * `bands[b]` is band b's board (its participants and top BAND_TOP_SIZE), null when nobody is in it.
   */
  bandOf: z.array(z.number().int().min(-1)).optional(),
  bandRanks: z.array(z.number().int().min(0)).optional(),
  bands: z.array(BandBoard.nullable()).optional(),
});
export type RankSnapshot = z.infer<typeof RankSnapshot>;

/**
 * A trainee's newest connection to a session, announced by the gateway that accepted it once it is welcomed;
 * every gateway closes that trainee's older connections (accepted earlier, ties broken by connection id) with 4409.
 */
export const Takeover = z.object({
  sessionId: Uuid,
  userId: Uuid,
  gatewayId: z.string().min(1),
  connectionId: z.string().min(1),
  /** Epoch milliseconds at which the gateway accepted the connection. */
  at: z.number().int(),
  /** The device and its attempt, when the client named them (DEVICE_QUERY, ATTEMPT_QUERY). */
  device: DeviceId.optional(),
  attempt: DeviceAttempt.optional(),
});
export type Takeover = z.infer<typeof Takeover>;

/** A gateway's periodic word on how many clients of a session it holds (soft state, expires). */
export const PresenceBeat = z.object({
  gatewayId: z.string(),
  sessionId: Uuid,
  connected: z.number().int().min(0),
  at: z.number().int(),
});
export type PresenceBeat = z.infer<typeof PresenceBeat>;
