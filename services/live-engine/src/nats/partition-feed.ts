import { nanos } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerInfo,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsNames } from '@pulse/contracts';
import { isNotFound } from '@pulse/runtime';
import type { Logger } from 'pino';
import { LIVE_PULL_EXPIRES_MS, logConsumerNotices } from './consumer-notices.js';

/** Messages the server may hand the engine unacked per partition (bounds memory while ClickHouse is slow). */
export const MAX_ACK_PENDING = 100_000;
/**
 * Messages one replay fetch asks for. It was 5,000: 5,000 gateway batches of a 10,000-participant session are
 * ~85 MB, and in flight at once they held the lease renewals' replies back past their timeout, so a new owner lost
 * the partition it was replaying, again and again (10,000 participants 10 minutes in: docs/FAULTS.md). 200 batches
 * are ~3.5 MB. (A byte limit instead — nats.js takes one or the other — crawled: 3,000 messages of 17 KB in one
 * 4 MB-limited fetch took 41 s, in fetches of 200 messages 0.14 s.)
 */
const REPLAY_FETCH = 200;
/**
 * A replay gives the event loop a turn at least this often. Without it one fetch of 5,000 batch messages
 * (625,000 ratings) held the loop for seconds, the lease renewals waited, and the new owner lost the partition
 * it was rebuilding (measured: docs/FAULTS.md, "Engine failover with checkpoints").
 */
const REPLAY_SLICE_MS = 20;
/**
 * Messages one live pull asks for. With 2,000 a pull was rarely filled within its 5 s (a partition carries ~80
 * gateway batches a second), so most pulls expired part-filled; at 500 × 20 on the hour, consumers then went
 * quiet until two missed heartbeats made nats.js pull again (2 runs of 3: once twelve partitions together, p99
 * 5.0 s). At 256 a pull fills in ~3 s and nats.js asks for the next one as it drains: 3 runs of 3 with no missed
 * heartbeat, p99 0.94-1.37 s (benchmarks/RESULTS.md). A backlog is still drained at many pulls a second.
 */
const PULL_BATCH = 256;

/** Where the durable consumer stood when the partition was (re)acquired. */
export interface FeedStart {
  /** The consumer did not exist: it delivers the whole partition, nothing to replay. */
  readonly created: boolean;
  /** Every message at or below this stream sequence was stored in ClickHouse and acked. */
  readonly ackFloor: number;
  /** Highest stream sequence ever delivered (perhaps to an engine that died): replay up to here. */
  readonly delivered: number;
  /**
   * Deliveries so far (consumer sequence). Everything delivered before this engine took the partition is
   * counted by the replay (and stored, or re-stored from the replay), so only later deliveries need routing.
   */
  readonly deliveredConsumerSeq: number;
  /** When the durable consumer was created (a checkpoint describes one consumer's history). */
  readonly consumerCreated: string;
}

/** The stream sequences a replay reads: those in (`afterSeq`, `untilSeq`]. */
export interface ReplayRange {
  /** 0 for the whole retained stream; a checkpoint's covered sequence to read only the tail after it. */
  readonly afterSeq: number;
  readonly untilSeq: number;
}

/** What the engine asks of one partition's JetStream input (a test can hand in another). */
export interface PartitionInput {
  open(): Promise<FeedStart>;
  replay(range: ReplayRange, onMessage: (m: JsMsg) => void): Promise<number>;
  consume(onMessage: (m: JsMsg) => void): Promise<void>;
  info(): Promise<ConsumerInfo>;
  stop(): Promise<void>;
}

/**
 * One partition's JetStream input: a durable pull consumer with explicit acks (the live feed of every session
 * of the partition) and an ordered consumer that replays what an earlier engine already consumed, so that a
 * new owner rebuilds the state of the partition's sessions. Created once per partition, never per session:
 * a session's start costs no JetStream API call.
 */
export class PartitionFeed implements PartitionInput {
  private messages: ConsumerMessages | null = null;
  private stopped = false;
  private manager: Promise<JetStreamManager> | null = null;

  constructor(
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    readonly partition: number,
    private readonly ackWaitMs: number,
    private readonly log: Logger,
  ) {}

  private jsm(): Promise<JetStreamManager> {
    this.manager ??= this.js.jetstreamManager(false);
    return this.manager;
  }

  private get durable(): string {
    return this.names.partitionConsumer(this.partition);
  }

  async open(): Promise<FeedStart> {
    try {
      const info = await (await this.jsm()).consumers.info(this.names.ratingsStream, this.durable);
      return {
        created: false,
        ackFloor: info.ack_floor.stream_seq,
        delivered: info.delivered.stream_seq,
        deliveredConsumerSeq: info.delivered.consumer_seq,
        consumerCreated: info.created,
      };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const created = await (
      await this.jsm()
    ).consumers.add(this.names.ratingsStream, {
      durable_name: this.durable,
      filter_subject: this.names.partitionRatings(this.partition),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.ackWaitMs),
      max_ack_pending: MAX_ACK_PENDING,
    });
    return {
      created: true,
      ackFloor: 0,
      delivered: 0,
      deliveredConsumerSeq: 0,
      consumerCreated: created.created,
    };
  }

  /**
   * Replays the partition's messages in `range`, in stream order: from the start of the stream (its max age
   * bounds the work: see docs/SCALING.md), or from just after a checkpoint (issue 14).
   */
  async replay(range: ReplayRange, onMessage: (m: JsMsg) => void): Promise<number> {
    // The server advances a filtered consumer's delivered.stream_seq over other partitions' messages: read up
    // to the partition's own last message, so that a replay with nothing to read does not wait out a fetch.
    const last = await (
      await this.jsm()
    ).streams.getMessage(this.names.ratingsStream, {
      last_by_subj: this.names.partitionRatings(this.partition),
    });
    const { afterSeq } = range;
    const untilSeq = Math.min(range.untilSeq, last?.seq ?? 0);
    if (untilSeq <= afterSeq) return 0;
    const consumer = await this.js.consumers.get(this.names.ratingsStream, {
      filter_subjects: this.names.partitionRatings(this.partition),
      ...(afterSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    let count = 0;
    for (;;) {
      const batch = await consumer.fetch({ max_messages: REPLAY_FETCH, expires: 1_000 });
      let got = 0;
      let done = false;
      let sliceStarted = performance.now();
      for await (const m of batch) {
        got++;
        if (this.stopped) {
          done = true;
          break;
        }
        if (m.seq > untilSeq) {
          done = true;
          break;
        }
        onMessage(m);
        count++;
        if (m.seq === untilSeq || m.info.pending === 0) {
          done = true;
          break;
        }
        if (performance.now() - sliceStarted >= REPLAY_SLICE_MS) {
          await new Promise((resolve) => setImmediate(resolve));
          sliceStarted = performance.now();
        }
      }
      if (done || got === 0) break;
    }
    await consumer.delete().catch(() => false);
    return count;
  }

  /** Starts the live feed; `onMessage` gets every delivered message (ack it after it is stored). */
  async consume(onMessage: (m: JsMsg) => void): Promise<void> {
    const consumer = await this.js.consumers.get(this.names.ratingsStream, this.durable);
    const messages = await consumer.consume({ max_messages: PULL_BATCH, expires: LIVE_PULL_EXPIRES_MS });
    this.messages = messages;
    logConsumerNotices(messages, this.log, this.durable);
    void (async () => {
      for await (const m of messages) onMessage(m);
    })();
  }

  async info(): Promise<ConsumerInfo> {
    return (await this.jsm()).consumers.info(this.names.ratingsStream, this.durable);
  }

  /** Stops pulling (already delivered, unacked messages are redelivered to the next consumer). */
  async stop(): Promise<void> {
    this.stopped = true;
    const messages = this.messages;
    this.messages = null;
    if (messages !== null) await messages.close();
  }
}
