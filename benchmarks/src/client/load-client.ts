import { cpus } from 'node:os';
import type { EndedFrame, RankFrame, WelcomeFrame } from '@pulse/contracts';
import type { PendingRating } from '@pulse/sdk';
import { BareDevice } from './bare-device.js';
import { LoadDevice } from './load-device.js';

/**
 * Which client drives a load worker's devices: `sdk`, the SDK's LiveSession (LoadDevice: every run, every
 * suite); `bare`, the protocol written by hand (BareDevice), the baseline the SDK's cost per socket is measured
 * against side by side (`--client both`); or `before`, the harness as it was before the SDK (issue 15's "before"):
 * the same hand-written client with a timer per device instead of the worker's metronome.
 */
export type ClientKind = 'sdk' | 'bare' | 'before';
export const CLIENT_KINDS: readonly ClientKind[] = ['sdk', 'bare', 'before'];
/**
 * What `--client` takes: one client for every device, or a pair side by side, half the devices each (`both` is
 * `sdk,bare`; `sdk,sdk` is a control of the instrument itself).
 */
export type ClientChoice = ClientKind | readonly [ClientKind, ClientKind];

/** One load worker: its client, and the name its CPU is reported under (a side of the pair: `sdk·a`, `sdk·b` when both sides run one client). */
export interface WorkerClient {
  kind: ClientKind;
  label: string;
}

/** What a load worker needs from one trainee's device, whichever client drives it. */
export interface LoadClient {
  start(timeoutMs: number, maxDrops: number): Promise<WelcomeFrame>;
  readonly open: boolean;
  readonly isLive: boolean;
  rate(energy: number): PendingRating;
  sendDuplicate(seq: number, energy: number): void;
  waitLive(timeoutMs?: number): Promise<unknown>;
  waitForRankSeq(seq: number, timeoutMs?: number): Promise<unknown>;
  waitEnded(timeoutMs: number): Promise<unknown>;
  drainLatencies(): number[];
  close(): Promise<void>;
  readonly lastRank: RankFrame | undefined;
  readonly ended: EndedFrame | undefined;
  readonly rankFrames: number;
  readonly maxRankGapMs: number;
  readonly errors: ReadonlyMap<string, number>;
  readonly protocolViolations: readonly string[];
  readonly refusals: number;
  readonly resent: number;
  readonly reconnects: number;
  readonly unconfirmed: number;
  readonly dropsBeforeWelcome: number;
  readonly dropReasons: ReadonlyMap<string, number>;
  readonly endedAs: string | undefined;
}

/** Load workers for `devices` devices unless `--workers` says: one per 2,500 devices, at most one per core. */
export function defaultWorkerCount(devices: number): number {
  return Math.max(1, Math.min(cpus().length, Math.ceil(devices / 2500)));
}

/**
 * The client of each load worker: a pair gives an even number of workers, its two sides alternating, so that the
 * pool's round robin puts half of every session's devices on each.
 */
export function workerClients(count: number, client: ClientChoice): WorkerClient[] {
  if (typeof client === 'string')
    return Array.from({ length: count }, () => ({ kind: client, label: client }));
  const [a, b] = client;
  const labels = a === b ? [`${a}·a`, `${b}·b`] : [a, b];
  return Array.from({ length: Math.max(2, count + (count % 2)) }, (_, i) => ({
    kind: client[i % 2],
    label: labels[i % 2],
  }));
}

/** Parses `--client`: a client, a pair `a,b`, or `both` (`sdk,bare`); undefined is the SDK. */
export function clientChoice(text: string | undefined): ClientChoice {
  if (text === undefined) return 'sdk';
  const parts = text === 'both' ? ['sdk', 'bare'] : text.split(',');
  const kinds = parts.filter((p): p is ClientKind => (CLIENT_KINDS as readonly string[]).includes(p));
  if (kinds.length === parts.length && kinds.length === 1) return kinds[0];
  if (kinds.length === parts.length && kinds.length === 2) return [kinds[0], kinds[1]];
  throw new Error(
    `--client must be ${CLIENT_KINDS.join(', ')}, two of them as a,b, or both (sdk,bare); got "${text}"`,
  );
}

export function newLoadClient(kind: ClientKind, url: string, ticket: string): LoadClient {
  return kind === 'sdk' ? new LoadDevice(url, ticket, { validate: 'light' }) : new BareDevice(url, ticket);
}
