import type { ThreadCpu } from '../metrics/cpu-time.js';

/** Messages between the load pool (main thread) and its worker threads. */

export interface ClientSpec {
  userId: string;
  url: string;
  ticket: string;
}

export type WorkerCommand =
  | { id: number; cmd: 'connect'; clients: ClientSpec[]; rampMs: number }
  | { id: number; cmd: 'play'; ratePerSec: number; resendEvery: number }
  | { id: number; cmd: 'stop' }
  | { id: number; cmd: 'settle'; timeoutMs: number }
  | { id: number; cmd: 'awaitEnded'; timeoutMs: number }
  | { id: number; cmd: 'summary'; closeWaitMs: number }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'close' };

/**
 * A worker's answer to `cpu`: its client's label (`WorkerClient.label`), its devices and the CPU its thread has
 * run (null: not known here).
 */
export type WorkerCpu = ThreadCpu;

/** What connecting a worker's (or every worker's) clients came to. */
export interface ConnectOutcome {
  /** Clients welcomed. */
  ok: number;
  failed: string[];
  /** Sockets lost before their welcome, and retried. */
  retried: number;
  /** Sockets lost before their welcome by `<close code> <socket error>`, e.g. `1006 ECONNRESET`. */
  dropReasons: Record<string, number>;
}

/** Counters for one stats interval of one worker. */
export interface WorkerStats {
  evt: 'stats';
  /** rating → own rank latencies (ms) observed in the interval. */
  latencies: Float64Array;
  sent: number;
  resent: number;
  rankFrames: number;
  errorFrames: number;
  connected: number;
  /** Ratings sent but not yet counted by any rank frame. */
  unconfirmed: number;
  /**
   * The worker's longest event-loop delay in the interval (ms): how late it could have read a rank frame or sent a
   * rating, which its latencies then include.
   */
  loopDelayMaxMs: number;
}

/** One client's totals at the end of a run. */
export interface ClientSummary {
  userId: string;
  /**
   * Distinct seqs sent (resends excluded). When the device was told at the end where its ratings stop
   * (`ended.lastSeq`), only the seqs up to it: those are the ones Pulse took.
   */
  sent: number;
  maxSeq: number;
  /** Error frames that refused a rating; the client (the SDK) resent from the refused seq each time. */
  refusals: number;
  /** Sockets lost after the welcome; the SDK reconnected, resumed from the welcome's `lastSeq` and resent. */
  reconnects: number;
  /**
   * Sum of the energy of every distinct seq sent (refused ones were resent), or up to `ended.lastSeq` when the
   * device was told it: the score the server must show.
   */
  expectedScore: number;
  /** `ended.lastSeq`, when the gateway told this device at the end where its counted ratings stop. */
  endedLastSeq: number | null;
  /** Distinct seqs sent above `ended.lastSeq` (refused at the end, or sent after it): not counted. */
  notTakenAtEnd: number;
  lastRankScore: number | null;
  lastRank: number | null;
  lastRankSeq: number | null;
  rankFrames: number;
  maxRankGapMs: number;
  /** How the device's live session ended on its own (`<state> <close code>`), null if the harness closed it. */
  endedAs: string | null;
  errors: Record<string, number>;
  protocolViolations: string[];
}

export type WorkerReply = { id: number; result?: unknown; error?: string };
export type WorkerMessage = WorkerStats | WorkerReply;
