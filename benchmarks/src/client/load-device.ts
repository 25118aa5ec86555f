import WebSocket from 'ws';
import { ServerFrame } from '@pulse/contracts';
import type { EndedFrame, ErrorFrame, RankFrame, WelcomeFrame } from '@pulse/contracts';
import { LiveSession } from '@pulse/sdk';
import type { PendingRating, WebSocketLike } from '@pulse/sdk';

/** A device backs off this long after a refusal (RATE_LIMITED, UNAVAILABLE), then resends from the refused seq. */
export const RESEND_DELAY_MS = 250;

export interface LoadDeviceOptions {
  /** `full` checks every frame with the contract's schema; `light` skips rank frames (load runs). */
  validate?: 'full' | 'light';
  /** Called for every `error` frame (after it is counted). */
  onError?: (frame: ErrorFrame) => void;
}

type Waiter = { ready: () => boolean; resolve: () => void };

/**
 * Frames checked against the contract that have no other listener here: with welcome, ended and error (checked in
 * theirs), every frame the SDK reads except rank frames, which only `full` mode checks.
 */
const CHECKED_ALONE = ['waiting', 'started', 'rescheduled', 'cancelled'] as const;

/**
 * One trainee's device for the load harness and the fault suites: the SDK's `LiveSession` (outbox, resume,
 * resend, reconnects, end states) with a ticket issued beforehand, measured from its events. It records the
 * rating → own rank latency (from the moment `rate()` wrote seq s to the socket until the first rank frame whose
 * `seq` >= s; resends, and ratings first written on a resume, are not timed), the largest gap between rank frames,
 * error frames by code, refusals, resends, reconnects and frames that break the contract.
 */
export class LoadDevice {
  readonly live: LiveSession;
  welcome: WelcomeFrame | undefined;
  /** The `ended` frame, once the session ended (its `lastSeq`: where this device's counted ratings stop). */
  ended: EndedFrame | undefined;
  rankFrames = 0;
  /** Longest time between two rank frames, in ms (a reconnect's outage included: the trainee saw it). */
  maxRankGapMs = 0;
  readonly errors = new Map<string, number>();
  /** Error frames that refused a rating (they carry `resendFrom` or `seq`); the SDK resent from there. */
  refusals = 0;
  /** Duplicates written by `sendDuplicate`. */
  private duplicates = 0;
  /** Sockets lost after the first welcome that the SDK reconnects (not the close at the end of a session). */
  reconnects = 0;
  /** Sockets lost before the first welcome (the SDK retried them). */
  dropsBeforeWelcome = 0;
  /** Why those sockets were lost: `<close code> <socket error>` (e.g. `1006 ECONNRESET`), counted. */
  readonly dropReasons = new Map<string, number>();
  private lastSocketError: string | undefined;
  /** The socket error of the last socket lost before its welcome ('-': none). */
  private lastDropError = '-';
  /**
   * How the live session ended when it ended on its own (not through `close()`): its end state and the close
   * code that caused it, e.g. `replaced 4409` or `ended 1000`; undefined while it runs or after `close()`.
   */
  endedAs: string | undefined;
  readonly protocolViolations: string[] = [];
  private latencies: number[] = [];
  private pendingSeqs: number[] = [];
  private pendingAt: number[] = [];
  private pendingHead = 0;
  private lastRankAt = 0;
  private socket: WebSocket | undefined;
  private waiters: Waiter[] = [];
  private closing = false;

  constructor(
    readonly url: string,
    readonly ticket: string,
    private readonly options: LoadDeviceOptions = {},
  ) {
    // The ticket was issued beforehand (seeded, or joined over REST): renewing it on 4401 returns the same one.
    const join = () => Promise.resolve({ ticket, gatewayUrl: url });
    this.live = new LiveSession('', join, {
      webSocket: (socketUrl) => {
        const socket = (this.socket = new WebSocket(socketUrl, { perMessageDeflate: false }));
        socket.on('error', (err: NodeJS.ErrnoException) => (this.lastSocketError = err.code ?? err.message));
        return socket as unknown as WebSocketLike;
      },
      resendDelayMs: RESEND_DELAY_MS,
    });
    this.listen(options.validate ?? 'light');
  }

  /** Connects; resolves with the first welcome, rejects after `maxDrops` sockets lost before it or the timeout. */
  start(timeoutMs = 30_000, maxDrops = 3): Promise<WelcomeFrame> {
    return new Promise((resolve, reject) => {
      let lastError = '';
      const offs: Array<() => void> = [];
      const settle = (failure?: string) => {
        clearTimeout(timer);
        for (const off of offs) off();
        if (failure === undefined) return;
        this.live.close();
        reject(new Error(`${failure}${lastError}`));
      };
      const timer = setTimeout(() => settle(`no welcome within ${timeoutMs} ms`), timeoutMs);
      offs.push(this.live.on('error', (f) => (lastError = `; last error frame ${JSON.stringify(f)}`)));
      offs.push(
        this.live.on('disconnect', ({ closeCode }) => {
          if (this.dropsBeforeWelcome >= maxDrops) {
            settle(
              `closed ${closeCode} before welcome (${maxDrops} times, last socket error: ${this.lastDropError})`,
            );
          }
        }),
      );
      this.live.start().then(
        (welcome) => {
          settle();
          resolve(welcome);
        },
        (err: unknown) => {
          settle();
          reject(err as Error);
        },
      );
    });
  }

  /** The socket has its welcome and is open (waiting room or live). */
  get open(): boolean {
    return this.live.state === 'live' || this.live.state === 'waiting';
  }
  get isLive(): boolean {
    return this.live.state === 'live';
  }
  get lastRank(): RankFrame | undefined {
    return this.live.rank;
  }

  /** Ratings written again: by the SDK (resume after a welcome, `resendFrom`) and by `sendDuplicate`. */
  get resent(): number {
    return this.live.resent + this.duplicates;
  }

  /**
   * Records a reading through the SDK, which writes it now when live: timed from that moment. One the SDK keeps
   * for the next socket (rated in the instant a socket is lost) is written when the session resumes, and is not
   * timed, like resends: the harness rates only live devices, and reading `lastSentSeq` here instead of
   * listening to `sent` spares every rating an event (issue 15).
   */
  rate(energy: number): PendingRating {
    const rating = this.live.rate(energy);
    if (this.live.lastSentSeq >= rating.seq) {
      this.pendingSeqs.push(rating.seq);
      this.pendingAt.push(performance.now());
    }
    return rating;
  }

  /** Writes an already sent rating again, straight to the socket: a duplicate the server must count once. */
  sendDuplicate(seq: number, energy: number): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    this.socket.send(`{"type":"rating","seq":${seq},"energy":${energy}}`);
    this.duplicates++;
  }

  /** Resolves once the session is live for this device. */
  waitLive(timeoutMs = 30_000): Promise<void> {
    return this.until(() => this.isLive, timeoutMs, 'live');
  }
  /** Waits for a rank frame that counts `seq` (rank.seq >= seq). */
  waitForRankSeq(seq: number, timeoutMs = 15_000): Promise<void> {
    return this.until(
      () => (this.live.rank?.seq ?? -1) >= seq,
      timeoutMs,
      `a rank frame counting seq ${seq}`,
    );
  }
  /** Waits for the `ended` frame, or for the session to finish without one. */
  waitEnded(timeoutMs: number): Promise<void> {
    return Promise.race([
      this.until(() => this.ended !== undefined, timeoutMs, 'ended'),
      this.live.done,
    ]).then(() => undefined);
  }

  drainLatencies(): number[] {
    const out = this.latencies;
    this.latencies = [];
    return out;
  }
  /** Ratings sent (timed) that no rank frame has counted yet. */
  get unconfirmed(): number {
    return this.pendingSeqs.length - this.pendingHead;
  }

  /** Leaves (1000) and waits for the socket to close, at most `timeoutMs`. */
  async close(timeoutMs = 5_000): Promise<void> {
    const socket = this.socket;
    this.closing = true;
    this.live.close();
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves when `ready()` holds, checked after every frame the device reads; 0: no timeout. */
  private until(ready: () => boolean, timeoutMs: number, what = ''): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { ready, resolve };
      if (timeoutMs > 0) {
        const timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`no ${what} within ${timeoutMs} ms; last rank ${JSON.stringify(this.live.rank)}`));
        }, timeoutMs);
        waiter.resolve = () => {
          clearTimeout(timer);
          resolve();
        };
      }
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.ready());
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private listen(validate: 'full' | 'light'): void {
    const live = this.live;
    // One listener per event, and the contract check rides along with the frames that have one: a worker holds
    // thousands of devices, and their listeners were most of a device's memory (issue 15).
    live.on(
      'rank',
      validate === 'full'
        ? (frame) => {
            this.onRank(frame, performance.now());
            this.check(frame);
          }
        : (frame) => this.onRank(frame, performance.now()),
    );
    live.on('welcome', (frame) => {
      this.check(frame);
      this.welcome = frame;
      this.wake();
    });
    live.on('state', ({ state }) => {
      if (state === 'reconnecting' && this.welcome !== undefined) this.reconnects++;
      this.wake();
    });
    void live.done.then(({ state, closeCode }) => {
      if (!this.closing) this.endedAs = `${state} ${closeCode ?? '-'}`;
    });
    live.on('ended', (frame) => {
      this.check(frame);
      this.ended = frame;
      this.wake();
    });
    live.on('error', (frame) => {
      this.check(frame);
      this.errors.set(frame.code, (this.errors.get(frame.code) ?? 0) + 1);
      if ((frame.resendFrom ?? frame.seq) !== undefined) this.refusals++;
      this.options.onError?.(frame);
    });
    live.on('disconnect', ({ closeCode }) => {
      if (this.welcome === undefined) {
        this.dropsBeforeWelcome++;
        this.lastDropError = this.lastSocketError ?? '-';
        const reason = `${closeCode} ${this.lastDropError}`;
        this.dropReasons.set(reason, (this.dropReasons.get(reason) ?? 0) + 1);
      }
      this.lastSocketError = undefined;
    });
    live.on('unreadable', ({ data, reason }) =>
      this.protocolViolations.push(`${reason}: ${String(data).slice(0, 100)}`),
    );
    const check = (frame: unknown) => this.check(frame);
    for (const type of CHECKED_ALONE) live.on(type, check);
  }

  private check(frame: unknown): void {
    const parsed = ServerFrame.safeParse(frame);
    if (parsed.success) return;
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    this.protocolViolations.push(`${where}${issue.message}: ${JSON.stringify(frame).slice(0, 200)}`);
  }

  private onRank(frame: RankFrame, now: number): void {
    if (this.lastRankAt > 0) this.maxRankGapMs = Math.max(this.maxRankGapMs, now - this.lastRankAt);
    this.lastRankAt = now;
    this.rankFrames++;
    const counted = frame.seq ?? 0;
    while (this.pendingHead < this.pendingSeqs.length && this.pendingSeqs[this.pendingHead] <= counted) {
      this.latencies.push(now - this.pendingAt[this.pendingHead]);
      this.pendingHead++;
    }
    if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pendingSeqs.length) {
      this.pendingSeqs = this.pendingSeqs.slice(this.pendingHead);
      this.pendingAt = this.pendingAt.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    this.wake();
  }
}
