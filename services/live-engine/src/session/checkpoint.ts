import { promisify } from 'node:util';
import { constants, gunzip, gzip } from 'node:zlib';
import { AGE_BANDS, LiveMessage } from '@pulse/contracts';
import { z } from 'zod';
import { CheckpointUnusable } from '../errors.js';
import type { AllowanceRule } from '../scoring/participant.js';
import { columnsProblem, type StandingsState } from '../scoring/standings-state.js';

/**
 * The checkpoint format's version. A reader refuses any other (the partition is then replayed in full), so a
 * change of meaning bumps it; a new optional actor field goes into `extra` instead and keeps it.
 */
export const CHECKPOINT_VERSION = 1;

/** What an actor kept of one message that it holds unprocessed (a rating before the session's start was known). */
export interface HeldMessage {
  readonly streamSeq: number;
  readonly entries: LiveMessage[];
}

/** Everything one session's actor keeps that outlives a message: restored by a new owner of the partition. */
export interface ActorCheckpoint {
  readonly sessionId: string;
  readonly state: 'waiting' | 'live' | 'ending';
  /** The session's start (minute 0), or null while the actor waits for it. */
  readonly startedAtMs: number | null;
  readonly standings: StandingsState;
  readonly held: HeldMessage[];
  /**
   * Actor fields added after version 1 without changing its meaning (e.g. the gateways that sent an end
   * barrier); a reader keeps what it knows and ignores the rest.
   */
  readonly extra: Record<string, unknown>;
}

/**
 * A partition's actors at one point of its stream: every message of the partition with stream sequence ≤
 * `coveredSeq` is applied to them, and the raw rows of every rating they counted from those messages are stored
 * in ClickHouse (see Partitions.checkpoint for why that holds).
 */
export interface PartitionCheckpoint {
  readonly version: number;
  readonly partition: number;
  readonly coveredSeq: number;
  /**
   * The durable partition consumer's creation time: a consumer created anew (stream or namespace reset)
   * starts another history, which this checkpoint does not describe.
   */
  readonly consumerCreated: string;
  /** The rules the state was counted under: a replay under other ones would decide differently. */
  readonly minuteMs: number;
  readonly allowance: AllowanceRule;
  readonly engineId: string;
  readonly writtenAtMs: number;
  readonly actors: ActorCheckpoint[];
}

// A plain loop, not z.array(z.number()): zod took ~80 ms over the ~450,000 numbers of a 10,000-participant session.
/** The end barrier's state, kept in `ActorCheckpoint.extra` (added after version 1; see end-barrier.ts). */
export interface EndBarrierExtra {
  /** Gateways whose end barrier the session's messages up to the checkpoint carried. */
  readonly barriers: string[];
  /** When the end was seen (the barrier's maximum wait runs from here); 0 before the end. */
  readonly endSeenAtMs: number;
}

const EndBarrierExtraSchema = z.object({ barriers: z.array(z.string()), endSeenAtMs: z.number() });

/** The end barrier's state in an actor checkpoint's `extra`, or none (a checkpoint written before it existed). */
export function endBarrierOf(extra: Record<string, unknown>): EndBarrierExtra {
  const parsed = EndBarrierExtraSchema.safeParse(extra.endBarrier);
  return parsed.success ? parsed.data : { barriers: [], endSeenAtMs: 0 };
}

const nums = z.custom<number[]>(
  (v) => Array.isArray(v) && v.every((n) => typeof n === 'number'),
  'an array of numbers',
);
const StandingsSchema = z.object({
  order: z.number(),
  userIds: z.array(z.string()),
  names: z.array(z.string()),
  weightsKg: nums,
  bands: nums,
  scoresCenti: nums,
  samples: nums,
  lastSeqs: nums,
  reachedOrders: nums,
  firstRatingsAtMs: z.array(z.number().nullable()),
  minutes: nums,
});
const ActorSchema = z.object({
  sessionId: z.string(),
  state: z.enum(['waiting', 'live', 'ending']),
  startedAtMs: z.number().nullable(),
  standings: StandingsSchema,
  held: z.array(z.object({ streamSeq: z.number(), entries: z.array(LiveMessage) })),
  extra: z.record(z.unknown()),
});
const CheckpointSchema = z.object({
  version: z.literal(CHECKPOINT_VERSION),
  partition: z.number().int(),
  coveredSeq: z.number().int().nonnegative(),
  consumerCreated: z.string(),
  minuteMs: z.number(),
  allowance: z.object({ ratePerSec: z.number(), burst: z.number() }),
  engineId: z.string(),
  writtenAtMs: z.number(),
  actors: z.array(ActorSchema),
});

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/**
 * JSON, gzipped in libuv's thread pool (off the event loop). Level 1: measured on a 10,000-participant,
 * 10-minute session (docs/FAULTS.md), higher levels cost several times the CPU for a few percent fewer bytes.
 */
export async function encodeCheckpoint(checkpoint: PartitionCheckpoint): Promise<Uint8Array> {
  return gzipAsync(JSON.stringify(checkpoint), { level: constants.Z_BEST_SPEED });
}

/** The checkpoint in `bytes`; throws CheckpointUnusable (`corrupt` or `incompatible`) when it cannot be used. */
export async function decodeCheckpoint(partition: number, bytes: Uint8Array): Promise<PartitionCheckpoint> {
  let body: unknown;
  try {
    body = JSON.parse((await gunzipAsync(bytes)).toString('utf8'));
  } catch (err) {
    throw new CheckpointUnusable(partition, 'corrupt', 'not gzipped JSON', err);
  }
  const version = (body as { version?: unknown } | null)?.version;
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointUnusable(partition, 'incompatible', `version ${String(version)}`);
  }
  const parsed = CheckpointSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CheckpointUnusable(partition, 'corrupt', `${issue?.path.join('.')}: ${issue?.message}`);
  }
  if (parsed.data.partition !== partition) {
    throw new CheckpointUnusable(partition, 'corrupt', `written for partition ${parsed.data.partition}`);
  }
  for (const actor of parsed.data.actors) {
    const problem = columnsProblem(actor.standings, AGE_BANDS.length);
    if (problem !== null)
      throw new CheckpointUnusable(partition, 'corrupt', `${actor.sessionId}: ${problem}`);
  }
  return parsed.data;
}

/** What a checkpoint must match to describe this partition's history under this engine's rules. */
export interface CheckpointExpectation {
  readonly consumerCreated: string;
  /** Highest stream sequence the partition consumer ever delivered. */
  readonly delivered: number;
  readonly minuteMs: number;
  readonly allowance: AllowanceRule;
}

/** Throws CheckpointUnusable (`incompatible`) when the checkpoint does not describe this consumer's history. */
export function checkCompatible(cp: PartitionCheckpoint, expected: CheckpointExpectation): void {
  const problem =
    cp.consumerCreated !== expected.consumerCreated
      ? `written for a consumer created ${cp.consumerCreated}, not ${expected.consumerCreated}`
      : cp.coveredSeq > expected.delivered
        ? `covers stream sequence ${cp.coveredSeq}, beyond the ${expected.delivered} delivered`
        : cp.minuteMs !== expected.minuteMs ||
            cp.allowance.ratePerSec !== expected.allowance.ratePerSec ||
            cp.allowance.burst !== expected.allowance.burst
          ? 'counted under another MINUTE_MS or score allowance'
          : null;
  if (problem !== null) throw new CheckpointUnusable(cp.partition, 'incompatible', problem);
}
