import type { EndedFrame, ErrorFrame, RankFrame, WelcomeFrame } from '@pulse/contracts';
import type { PendingRating } from '@pulse/sdk';
import { RESEND_DELAY_MS } from './load-device.js';
import type { LoadClient } from './load-client.js';
import { TraineeConnection } from './trainee.js';

/** A socket lost before its welcome is opened again this long after. */
const RECONNECT_DELAY_MS = 1_000;

/**
 * The baseline the SDK is measured against (issue 15: driving devices through the SDK must not make the harness
 * slower per socket): the protocol written by hand over one `TraineeConnection`, as the harness drove it before
 * the SDK. It connects (retrying a socket lost before its welcome), sends ratings, resends from a refused seq and
 * times rating → own rank; it has no outbox beyond the energies it keeps, no reconnect after the welcome and no
 * ticket renewal, so it serves load runs without faults (`--client bare` or `both`), not the fault suites.
 */
export class BareDevice implements LoadClient {
  readonly conn: TraineeConnection;
  dropsBeforeWelcome = 0;
  readonly dropReasons = new Map<string, number>();
  readonly reconnects = 0;
  refusals = 0;
  resent = 0;
  private seq = 0;
  private readonly energies: number[] = [];
  /** Lowest refused seq waiting for its resend (nothing above it is stored before it). */
  private resendFrom: number | undefined;
  private resendTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(url: string, ticket: string) {
    this.conn = new TraineeConnection(url, ticket, {
      validate: 'light',
      onError: (frame) => this.onRefusal(frame),
    });
  }

  async start(timeoutMs = 30_000, maxDrops = 3): Promise<WelcomeFrame> {
    for (;;) {
      try {
        const welcome = await this.conn.connect(timeoutMs);
        this.seq = welcome.lastSeq;
        return welcome;
      } catch (err) {
        const reason = `${this.conn.closeCode ?? '-'} -`;
        this.dropReasons.set(reason, (this.dropReasons.get(reason) ?? 0) + 1);
        if (++this.dropsBeforeWelcome >= maxDrops) throw err;
        await new Promise((r) => setTimeout(r, RECONNECT_DELAY_MS));
      }
    }
  }

  get open(): boolean {
    return this.conn.open;
  }
  get isLive(): boolean {
    return this.conn.live && this.conn.open;
  }
  get lastRank(): RankFrame | undefined {
    return this.conn.lastRank;
  }
  get ended(): EndedFrame | undefined {
    return this.conn.ended;
  }
  get rankFrames(): number {
    return this.conn.rankFrames;
  }
  get maxRankGapMs(): number {
    return this.conn.maxRankGapMs;
  }
  get errors(): ReadonlyMap<string, number> {
    return this.conn.errors;
  }
  get protocolViolations(): readonly string[] {
    return this.conn.protocolViolations;
  }
  /** `ended <code>` when the gateway closed the socket after the session's end; undefined while open or after close(). */
  get endedAs(): string | undefined {
    if (this.closing || this.conn.closeCode === undefined) return undefined;
    return `${this.conn.ended ? 'ended' : 'closed'} ${this.conn.closeCode}`;
  }
  get unconfirmed(): number {
    return this.conn.unconfirmed;
  }

  rate(energy: number): PendingRating {
    const seq = ++this.seq;
    this.energies[seq] = energy;
    this.conn.sendRating(seq, energy);
    return { seq, energy };
  }

  sendDuplicate(seq: number, energy: number): void {
    this.conn.sendRating(seq, energy, false);
    this.resent++;
  }

  waitLive(timeoutMs = 30_000): Promise<unknown> {
    return this.conn.waitLive(timeoutMs);
  }
  waitForRankSeq(seq: number, timeoutMs = 15_000): Promise<unknown> {
    return this.conn.waitForRankSeq(seq, timeoutMs);
  }
  waitEnded(timeoutMs: number): Promise<unknown> {
    return Promise.race([this.conn.nextFrame((f) => f.type === 'ended', timeoutMs), this.conn.closed]);
  }
  drainLatencies(): number[] {
    return this.conn.drainLatencies();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.resendTimer);
    await this.conn.close();
  }

  /** What a well-behaved device does with a refused rating: wait a little, resend from the refused seq. */
  private onRefusal(frame: ErrorFrame): void {
    const from = frame.resendFrom ?? frame.seq;
    if (from === undefined) return;
    this.refusals++;
    if (this.resendFrom !== undefined) {
      this.resendFrom = Math.min(this.resendFrom, from);
      return;
    }
    this.resendFrom = from;
    this.resendTimer = setTimeout(() => {
      const start = this.resendFrom!;
      this.resendFrom = undefined;
      for (let s = start; s <= this.seq; s++) {
        if (this.energies[s] === undefined) continue;
        this.conn.sendRating(s, this.energies[s], false);
        this.resent++;
      }
    }, RESEND_DELAY_MS);
  }
}
