import type { ErrorFrame } from '@pulse/contracts';
import { LoadDevice } from '../../../src/client/load-device.js';
import { energyOf } from './world.js';

/**
 * A trainee device as the protocol asks it to behave, through the SDK (issue 15): it produces one rating per
 * tick, and its `LiveSession` sends each seq, resends from `resendFrom` after an error and, after a
 * (re)connect, from the welcome's `lastSeq + 1`.
 */
export class FaultTrainee {
  /** Ratings produced (the highest seq: a fresh device numbers them from 1). */
  generated = 0;
  /** Every frame's type → count, and the close codes seen. */
  readonly counts = new Map<string, number>();
  readonly closeCodes: number[] = [];
  readonly errors: ErrorFrame[] = [];
  /** When rank frames arrived. */
  lastRankAtMs = 0;
  readonly rankTimesMs: number[] = [];
  private readonly device: LoadDevice;
  private readonly energies: number[] = [];
  private producing = true;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    url: string,
    ticket: string,
    readonly userId: string,
    readonly index: number,
    private readonly tickMs = 100,
  ) {
    this.device = new LoadDevice(url, ticket, { validate: 'full', onError: (f) => this.errors.push(f) });
    const live = this.device.live;
    for (const type of ['welcome', 'waiting', 'started', 'rank', 'ended', 'cancelled', 'error'] as const) {
      live.on(type, () => this.counts.set(type, (this.counts.get(type) ?? 0) + 1));
    }
    live.on('rank', () => {
      this.lastRankAtMs = Date.now();
      this.rankTimesMs.push(this.lastRankAtMs);
    });
    live.on('disconnect', ({ closeCode }) => this.closeCodes.push(closeCode));
  }

  start(): void {
    this.device.start(60_000, Infinity).catch(() => undefined);
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  /** Stops producing new ratings; the SDK keeps resending until everything produced is counted. */
  stopProducing(): void {
    this.producing = false;
  }

  /** Highest seq the latest rank frame counts. */
  get rankSeq(): number {
    return this.device.lastRank?.seq ?? 0;
  }
  get caughtUp(): boolean {
    return this.rankSeq >= this.generated;
  }

  /** The exact score the results must show: every produced rating once. */
  get expectedScore(): number {
    return this.energies.reduce((sum, energy) => sum + energy, 0);
  }

  /** Frames that broke the contract (every frame is checked). */
  get protocolViolations(): readonly string[] {
    return this.device.protocolViolations;
  }

  close(): void {
    clearInterval(this.timer);
    void this.device.close();
  }

  private tick(): void {
    if (!this.producing) return;
    // Recorded while (re)connecting too: the outbox keeps it until the session is live.
    const rating = this.device.rate(energyOf(this.index, this.generated + 1));
    this.generated = rating.seq;
    this.energies[rating.seq] = rating.energy;
  }
}
