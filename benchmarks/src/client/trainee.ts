import WebSocket from 'ws';
import {
  parseServerFrame,
  type EndedFrame,
  type ErrorFrame,
  type RankFrame,
  type ServerFrame,
  type WelcomeFrame,
} from '@pulse/contracts';

export interface TraineeOptions {
  /** `full` checks every frame with the contract's schema; `light` skips it for rank frames (load runs). */
  validate?: 'full' | 'light';
  /** Keep every frame received (tests); load runs keep only counters. */
  keepFrames?: boolean;
  /** Called for every `error` frame (after it is counted). */
  onError?: (frame: ErrorFrame) => void;
}

type Waiter = { match: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void };

/**
 * One trainee's WebSocket: sends ratings, measures rating → own rank latency (send time of seq s until the
 * first rank frame whose `seq` >= s) and the gaps between rank frames.
 */
export class TraineeConnection {
  readonly frames: ServerFrame[] = [];
  welcome: WelcomeFrame | undefined;
  /** The `ended` frame, once the session ended (its `lastSeq`: where this device's counted ratings stop). */
  ended: EndedFrame | undefined;
  lastRank: RankFrame | undefined;
  rankFrames = 0;
  /** Longest time between two rank frames while live, in ms. */
  maxRankGapMs = 0;
  readonly errors = new Map<string, number>();
  /** Seqs the server answered with an error frame (they are not stored). */
  readonly rejectedSeqs = new Set<number>();
  readonly protocolViolations: string[] = [];
  /** Latencies (ms) recorded since the last `drainLatencies()`. */
  private latencies: number[] = [];
  private pendingSeqs: number[] = [];
  private pendingAt: number[] = [];
  private pendingHead = 0;
  private lastRankAt = 0;
  private waiters: Waiter[] = [];
  private socket: WebSocket | undefined;
  /** Set once the session is live for this client (welcome state `live` or a `started` frame). */
  live = false;
  closeCode: number | undefined;
  closed: Promise<number> = Promise.resolve(0);

  constructor(
    readonly url: string,
    readonly ticket: string,
    private readonly options: TraineeOptions = {},
  ) {}

  /** Opens the socket and resolves with the `welcome` frame (or rejects with the error/close). */
  connect(timeoutMs = 15_000): Promise<WelcomeFrame> {
    const socket = new WebSocket(`${this.url}?ticket=${encodeURIComponent(this.ticket)}`, {
      perMessageDeflate: false,
    });
    this.socket = socket;
    this.closeCode = undefined;
    this.closed = new Promise((resolve) => socket.once('close', (code) => resolve(code)));
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    socket.on('close', (code) => {
      this.closeCode = code;
    });
    let socketError = '';
    socket.on(
      'error',
      (err) => (socketError ||= `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`),
    );
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no welcome within ${timeoutMs} ms`)), timeoutMs);
      socket.once('close', (code, reason) => {
        clearTimeout(timer);
        const last = this.frames.at(-1);
        reject(
          new Error(
            `closed ${code} ${reason.toString()} before welcome; last frame ${JSON.stringify(last)}` +
              (socketError ? `; socket error: ${socketError}` : ''),
          ),
        );
      });
      this.nextFrame((f) => f.type === 'welcome' || f.type === 'error', timeoutMs)
        .then((f) => {
          clearTimeout(timer);
          if (f.type === 'welcome') resolve(f);
          else reject(new Error(`error frame instead of welcome: ${JSON.stringify(f)}`));
        })
        .catch(reject);
    });
  }

  get open(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  sendRating(seq: number, energy: number, measure = true): void {
    if (!this.open) return;
    if (measure) {
      this.pendingSeqs.push(seq);
      this.pendingAt.push(performance.now());
    }
    this.socket!.send(`{"type":"rating","seq":${seq},"energy":${energy}}`);
  }
  sendRaw(text: string): void {
    this.socket?.send(text);
  }

  /** Resolves with the first frame from now on (or already kept, with `keepFrames`) that matches. */
  nextFrame(
    match: (f: ServerFrame) => boolean,
    timeoutMs = 15_000,
    includeKept = false,
  ): Promise<ServerFrame> {
    if (includeKept) {
      const found = this.frames.find(match);
      if (found) return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { match, resolve };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `no matching frame within ${timeoutMs} ms; last ${JSON.stringify(this.frames.at(-1) ?? this.lastRank)}`,
          ),
        );
      }, timeoutMs);
      waiter.resolve = (f) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves once the session is live for this client. */
  waitLive(timeoutMs = 30_000): Promise<unknown> {
    return this.live ? Promise.resolve() : this.nextFrame((f) => f.type === 'started', timeoutMs);
  }

  /** Waits for a rank frame that counts `seq` (rank.seq >= seq). */
  waitForRankSeq(seq: number, timeoutMs = 15_000): Promise<RankFrame> {
    if (this.lastRank?.seq !== undefined && this.lastRank.seq >= seq) return Promise.resolve(this.lastRank);
    return this.nextFrame((f) => f.type === 'rank' && (f.seq ?? -1) >= seq, timeoutMs) as Promise<RankFrame>;
  }

  drainLatencies(): number[] {
    const out = this.latencies;
    this.latencies = [];
    return out;
  }
  /** Ratings sent (measured) that no rank frame has counted yet. */
  get unconfirmed(): number {
    return this.pendingSeqs.length - this.pendingHead;
  }

  close(): Promise<number> {
    this.socket?.close(1000);
    return this.closed;
  }
  /** Drops the TCP connection without a close handshake (a device losing its network). */
  terminate(): Promise<number> {
    this.socket?.terminate();
    return this.closed;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const now = performance.now();
    const frame = this.parse(data, isBinary);
    if (!frame) return;
    if (this.options.keepFrames) this.frames.push(frame);
    if (frame.type === 'rank') this.onRank(frame, now);
    else if (frame.type === 'welcome') {
      this.welcome = frame;
      this.live = frame.state === 'live';
    } else if (frame.type === 'started') this.live = true;
    else if (frame.type === 'ended') this.ended = frame;
    else if (frame.type === 'error') {
      this.errors.set(frame.code, (this.errors.get(frame.code) ?? 0) + 1);
      if (frame.seq !== undefined) this.rejectedSeqs.add(frame.seq);
      this.options.onError?.(frame);
    }
    if (this.waiters.length > 0) {
      for (const w of this.waiters.filter((x) => x.match(frame))) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(frame);
      }
    }
  }

  private onRank(frame: RankFrame, now: number): void {
    if (this.lastRankAt > 0) this.maxRankGapMs = Math.max(this.maxRankGapMs, now - this.lastRankAt);
    this.lastRankAt = now;
    this.lastRank = frame;
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
  }

  private parse(data: Buffer, isBinary: boolean): ServerFrame | undefined {
    if (isBinary) {
      this.protocolViolations.push('binary frame');
      return undefined;
    }
    if (this.options.validate !== 'full') {
      try {
        const json = JSON.parse(data.toString('utf8')) as { type?: unknown };
        if (json.type === 'rank') return json as RankFrame;
      } catch {
        this.protocolViolations.push(`not JSON: ${data.toString('utf8').slice(0, 100)}`);
        return undefined;
      }
    }
    const parsed = parseServerFrame(data);
    if (parsed.ok) return parsed.frame;
    this.protocolViolations.push(`${parsed.error.message}: ${data.toString('utf8').slice(0, 200)}`);
    return undefined;
  }
  /** Resets the gap clock (e.g. after a reconnect) so the gap is not counted across the outage. */
  resetGapClock(): void {
    this.lastRankAt = 0;
  }
}
