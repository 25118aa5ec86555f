import type { EndedFrame, RankFrame, WelcomeFrame } from '@pulse/contracts';
import type { PendingRating } from '@pulse/sdk';
import { BareDevice } from './bare-device.js';
import { LoadDevice } from './load-device.js';

/**
 * Which client drives a load worker's devices: `sdk`, the SDK's LiveSession (LoadDevice: every run, every
 * suite), or `bare`, the protocol written by hand (BareDevice), the baseline the SDK's cost per socket is
 * measured against side by side (`--client both`).
 */
export type ClientKind = 'sdk' | 'bare';
export const CLIENT_KINDS: readonly ClientKind[] = ['sdk', 'bare'];
/** What `--client` takes: one client for every device, or `both`, half the devices on each. */
export type ClientChoice = ClientKind | 'both';

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

/**
 * The client of each load worker: `both` gives an even number of workers, SDK and bare alternating, so that
 * the pool's round robin puts half of every session's devices on each client.
 */
export function workerKinds(count: number, client: ClientChoice): ClientKind[] {
  if (client !== 'both') return Array.from({ length: count }, () => client);
  return Array.from({ length: Math.max(2, count + (count % 2)) }, (_, i) => CLIENT_KINDS[i % 2]);
}

export function newLoadClient(kind: ClientKind, url: string, ticket: string): LoadClient {
  return kind === 'bare' ? new BareDevice(url, ticket) : new LoadDevice(url, ticket, { validate: 'light' });
}
