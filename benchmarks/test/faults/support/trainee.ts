import { WebSocket } from 'ws';
import { energyOf } from './world.js';

interface Frame {
  type: string;
  [key: string]: unknown;
}

/**
 * A trainee device as the protocol asks it to behave: it produces one rating per tick, sends each seq once,
 * resends from `resendFrom` after an error, and after a (re)connect resends from the welcome's `lastSeq + 1`.
 */
export class FaultTrainee {
  generated = 0;
  /** Every frame's type → count, and the close codes seen. */
  readonly counts = new Map<string, number>();
  readonly closeCodes: number[] = [];
  readonly errors: Frame[] = [];
  /** Highest seq the latest rank frame counts, and when rank frames arrived. */
  rankSeq = 0;
  lastRankAtMs = 0;
  readonly rankTimesMs: number[] = [];
  private nextToSend = 1;
  private ws: WebSocket | undefined;
  private welcomed = false;
  private stopped = false;
  private producing = true;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly ticket: string,
    readonly userId: string,
    readonly index: number,
    private readonly tickMs = 100,
  ) {}

  start(): void {
    this.connect();
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  /** Stops producing new ratings; keeps resending until everything generated is counted. */
  stopProducing(): void {
    this.producing = false;
  }

  get caughtUp(): boolean {
    return this.rankSeq >= this.generated;
  }

  /** The exact score the results must show: every generated rating once. */
  get expectedScore(): number {
    let sum = 0;
    for (let seq = 1; seq <= this.generated; seq++) sum += energyOf(this.index, seq);
    return sum;
  }

  close(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.ws?.terminate();
  }

  private connect(): void {
    if (this.stopped) return;
    this.welcomed = false;
    const ws = new WebSocket(`${this.url}?ticket=${encodeURIComponent(this.ticket)}`);
    this.ws = ws;
    ws.on('message', (data) => this.onFrame(JSON.parse(String(data)) as Frame));
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      this.closeCodes.push(code);
      if (!this.stopped) setTimeout(() => this.connect(), 250);
    });
  }

  private onFrame(frame: Frame): void {
    this.counts.set(frame.type, (this.counts.get(frame.type) ?? 0) + 1);
    if (frame.type === 'welcome') {
      this.welcomed = true;
      this.nextToSend = Number(frame.lastSeq) + 1;
    } else if (frame.type === 'rank') {
      this.rankSeq = Number(frame.seq ?? 0);
      this.lastRankAtMs = Date.now();
      this.rankTimesMs.push(this.lastRankAtMs);
    } else if (frame.type === 'error') {
      this.errors.push(frame);
      const from = typeof frame.resendFrom === 'number' ? frame.resendFrom : Number(frame.seq);
      if (Number.isInteger(from) && from < this.nextToSend) this.nextToSend = from;
    }
  }

  private tick(): void {
    if (this.producing) this.generated += 1;
    if (!this.welcomed || this.ws?.readyState !== WebSocket.OPEN) return;
    // Resend what the gateway asked for, at most 50 frames per tick.
    for (let n = 0; n < 50 && this.nextToSend <= this.generated; n++) {
      const seq = this.nextToSend++;
      this.ws.send(JSON.stringify({ type: 'rating', seq, energy: energyOf(this.index, seq) }));
    }
  }
}
