import { ATTEMPT_QUERY, CloseCode, DEVICE_QUERY, ErrorCode, RatingFrame } from '@pulse/contracts';
import type {
  BoardFrame,
  CancelledFrame,
  EndedFrame,
  ErrorFrame,
  MainBoard,
  RankFrame,
  RescheduledFrame,
  ServerFrame,
  StartedFrame,
  WaitingFrame,
  WelcomeFrame,
} from '@pulse/contracts';
import { DEFAULT_BACKOFF, backoffDelayMs } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import { TypedEmitter } from './emitter.js';
import { PulseApiError } from './errors.js';
import { joinHeartbeat } from './heartbeat.js';
import { RatingOutbox } from './outbox.js';
import type { PendingRating } from './outbox.js';
import type { JoinResult } from './rest.js';

/** Where a live session is. The last five are end states: nothing happens after them. */
export type LiveState =
  | 'idle'
  | 'connecting'
  | 'waiting'
  | 'live'
  | 'reconnecting'
  | 'ended'
  | 'cancelled'
  | 'replaced'
  | 'closed'
  | 'failed';
export type LiveEndState = 'ended' | 'cancelled' | 'replaced' | 'closed' | 'failed';

/** How a live session finished. */
export interface LiveEnd {
  state: LiveEndState;
  /** The close code that ended it, when a socket close did. */
  closeCode?: number;
  /** For `failed`: the join error or the reason. */
  error?: unknown;
  /** For `ended`: where the results are (`GET` on the API). */
  resultsPath?: string;
  /**
   * For `ended`, when the gateway that held the socket at the end said so: every rating up to this seq counts
   * in the results (within the score allowance); `notTaken` lists the ones above it, which do not.
   */
  lastSeq?: number;
  notTaken?: readonly PendingRating[];
}

export interface LiveEvents {
  state: { state: LiveState; previous: LiveState; closeCode?: number };
  welcome: WelcomeFrame;
  waiting: WaitingFrame;
  started: StartedFrame;
  rank: RankFrame;
  rescheduled: RescheduledFrame;
  ended: EndedFrame;
  cancelled: CancelledFrame;
  error: ErrorFrame;
  /** A socket closed (or was given up as stale: 1006); the state event tells what happens next. */
  disconnect: { closeCode: number };
  /** The server confirmed every rating up to `seq`; `pending` are still unconfirmed. */
  confirmed: { seq: number; pending: number };
  /**
   * Ratings just written to the socket, in seq order. The first `resends` of them had been written before
   * (resumed after a welcome, or resent from an error's `resendFrom`); the others leave the device for the first
   * time, so a listener can time a rating from the moment it was sent. Read `ratings` during the event: it may
   * be the outbox's own list, which changes as ratings are confirmed.
   */
  sent: { ratings: readonly PendingRating[]; resends: number };
  /** A frame the SDK could not read (binary, not JSON, or of no known type); it was ignored. */
  unreadable: { data: unknown; reason: string };
}

/** What a live session needs from a join: the ticket and the gateway to present it to. */
export type LiveTicket = Pick<JoinResult, 'ticket' | 'gatewayUrl'>;

/** The part of the WHATWG WebSocket the SDK uses; `ws` on Node implements it too. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
/** Opens a socket: the browser's `WebSocket` by default; on Node 20 pass `(url) => new WebSocket(url)` from `ws`. */
export type WebSocketFactory = (url: string) => WebSocketLike;

export interface LiveOptions {
  webSocket?: WebSocketFactory;
  backoff?: BackoffOptions;
  /**
   * A socket that delivered no frame this long is given up and replaced (half-open connections). The heartbeat
   * checks it, so it is noticed up to one `pingIntervalMs` later.
   */
  staleMs?: number;
  /**
   * Heartbeat interval: on each beat a socket that received no frame since the last beat sends a `ping`, which
   * keeps the waiting room's socket busy enough to notice it died (a live socket's rank frames already do).
   */
  pingIntervalMs?: number;
  /** Wait before resending after RATE_LIMITED or UNAVAILABLE. */
  resendDelayMs?: number;
  /** Consecutive 4401 closes on fresh tickets before giving up (a misconfigured deployment). */
  maxTicketRenewals?: number;
  random?: () => number;
}

export const DEFAULT_STALE_MS = 20_000;
export const DEFAULT_PING_INTERVAL_MS = 5_000;
export const DEFAULT_RESEND_DELAY_MS = 1_000;
export const DEFAULT_MAX_TICKET_RENEWALS = 3;
const OPEN = 1;
const PING_FRAME = '{"type":"ping"}';

/**
 * A rating frame, the hot path of every device: for finite numbers a template gives the very bytes of
 * `JSON.stringify({ type: 'rating', seq, energy })` (the same number-to-string rules) without building an object;
 * anything else goes through `JSON.stringify`, as before.
 */
function ratingFrame(seq: number, energy: number): string {
  if (Number.isFinite(seq) && Number.isFinite(energy))
    return `{"type":"rating","seq":${seq},"energy":${energy}}`;
  return JSON.stringify({ type: 'rating', seq, energy });
}

/** The energy range of the contract's rating frame, read once (a zod parse per rating costs more than the rest of rate()). */
const ENERGY_MIN = RatingFrame.shape.energy.minValue ?? 0;
const ENERGY_MAX = RatingFrame.shape.energy.maxValue ?? 100;

const END_STATES: ReadonlySet<LiveState> = new Set(['ended', 'cancelled', 'replaced', 'closed', 'failed']);
/**
 * Closes that say this client's own frames broke the protocol (framing, UTF-8, fragments, size): the contract's
 * "fix the client". Reconnecting would send the same again, so the session ends `failed`.
 */
const CLIENT_FAULTS: ReadonlySet<number> = new Set([
  CloseCode.PROTOCOL_ERROR,
  CloseCode.INVALID_PAYLOAD,
  CloseCode.POLICY_VIOLATION,
  CloseCode.MESSAGE_TOO_BIG,
]);

function defaultWebSocket(): WebSocketFactory {
  const Ctor = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (Ctor === undefined) {
    throw new Error(
      'no global WebSocket: pass options.webSocket, e.g. (url) => new WebSocket(url) from "ws"',
    );
  }
  return (url) => new Ctor(url);
}

/**
 * One trainee's presence in one live session: join → connect → welcome → stream, with a local outbox of ratings
 * not yet confirmed, reconnects with backoff and jitter, resume from `welcome.lastSeq`, resend from
 * `error.resendFrom`, a new ticket on 4401, and an end state per close code (`done`).
 */
export class LiveSession extends TypedEmitter<LiveEvents> {
  readonly outbox = new RatingOutbox();
  /** Settles once, with the end state. */
  readonly done: Promise<LiveEnd>;
  private current: LiveState = 'idle';
  private lastRank: RankFrame | undefined;
  private ticket: LiveTicket | undefined;
  private socket: WebSocketLike | undefined;
  private attempt = 0;
  /**
   * Named in every upgrade (DEVICE_QUERY, ATTEMPT_QUERY): this session's device id and the number of sockets it
   * opened, so that a socket it gave up on, reaching a gateway late, cannot replace the one it opened since.
   */
  readonly deviceId = newDeviceId();
  private sockets = 0;
  private ticketRenewals = 0;
  /**
   * Whether a frame arrived since the last beat, noted instead of timed: a clock read per frame is a hot-path cost
   * the heartbeat does not need. Each beat dates the newest frame at its own time (`heardAt`): late by at most one
   * interval, so a half-open socket is given up between `staleMs` and `staleMs` + `pingIntervalMs` after its last
   * frame.
   */
  private heardSinceBeat = false;
  private heardAt = 0;
  private sawEnd: EndedFrame | CancelledFrame | undefined;
  private resendFrom: number | undefined;
  /** The main board chosen with `setMainBoard`, sent again after every welcome (issue 16). */
  private main: MainBoard | undefined;
  /** The highest seq ever written to a socket: a rating at or below it is a resend. */
  private sentUpTo = 0;
  private resends = 0;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** Leaves the shared heartbeat (see joinHeartbeat), while a socket is open. */
  private leaveHeartbeat: (() => void) | undefined;
  private finish!: (end: LiveEnd) => void;
  private readonly options: Required<Omit<LiveOptions, 'webSocket'>> & { webSocket: WebSocketFactory };

  constructor(
    readonly sessionId: string,
    /**
     * Asks for a ticket: at the start and whenever the gateway refuses one (4401). `PulseClient.live` passes its
     * `join`; a caller holding a ticket issued elsewhere can pass `() => Promise.resolve({ ticket, gatewayUrl })`.
     */
    private readonly join: (sessionId: string) => Promise<LiveTicket>,
    options: LiveOptions = {},
  ) {
    super();
    this.options = {
      webSocket: options.webSocket ?? defaultWebSocket(),
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      staleMs: options.staleMs ?? DEFAULT_STALE_MS,
      pingIntervalMs: options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      resendDelayMs: options.resendDelayMs ?? DEFAULT_RESEND_DELAY_MS,
      maxTicketRenewals: options.maxTicketRenewals ?? DEFAULT_MAX_TICKET_RENEWALS,
      random: options.random ?? Math.random,
    };
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  get state(): LiveState {
    return this.current;
  }
  /** The latest rank frame, if any. */
  get rank(): RankFrame | undefined {
    return this.lastRank;
  }
  /**
   * The highest seq written to a socket so far. Right after `rate()`, `lastSentSeq >= rating.seq` says it was
   * written then: a device simulator can time it from that moment without a `sent` event per rating.
   */
  get lastSentSeq(): number {
    return this.sentUpTo;
  }
  /** Ratings written again so far: resumed after a welcome, or resent from an error's `resendFrom`. */
  get resent(): number {
    return this.resends;
  }

  /** Joins and connects; resolves with the first welcome, rejects when the session ends before one. */
  start(): Promise<WelcomeFrame> {
    if (this.current !== 'idle') throw new Error(`start() called in state ${this.current}`);
    const welcomed = new Promise<WelcomeFrame>((resolve, reject) => {
      const off = this.on('welcome', (frame) => {
        off();
        resolve(frame);
      });
      void this.done.then((end) => {
        off();
        reject(end.error ?? new Error(`live session ${end.state} before a welcome`));
      });
    });
    this.setState('connecting');
    void this.open(true);
    return welcomed;
  }

  /**
   * Records a reading; it is sent now when live, or kept and sent once the session is live again. A reading the
   * gateway would refuse (not a finite number from 0 to 100) throws a RangeError and is not kept: kept, it would
   * be resent after every reconnect and refused every time.
   */
  rate(energy: number): PendingRating {
    if (this.current !== 'live' && END_STATES.has(this.current)) {
      throw new Error(`cannot rate: the live session is ${this.current}`);
    }
    if (!(Number.isFinite(energy) && energy >= ENERGY_MIN && energy <= ENERGY_MAX)) {
      throw new RangeError(
        `energy must be a finite number from ${ENERGY_MIN} to ${ENERGY_MAX}, not ${String(energy)}`,
      );
    }
    const rating = this.outbox.add(energy);
    if (this.current === 'live') this.send([rating]);
    return rating;
  }

  /**
   * Chooses the board shown as the main one (issue 16): sent now when connected and again after every welcome,
   * since the gateway keeps the choice per socket. Rank frames then carry `main`. A `band` choice the gateway
   * refuses (`error` BOARD_UNAVAILABLE: the trainee has no age band in this class) is forgotten.
   */
  setMainBoard(main: MainBoard): void {
    if (END_STATES.has(this.current))
      throw new Error(`cannot choose a board: the live session is ${this.current}`);
    this.main = main;
    this.sendBoard();
  }

  /** The main board chosen with `setMainBoard`, if any. */
  get mainBoard(): MainBoard | undefined {
    return this.main;
  }

  /** Leaves: closes the socket normally and ends in `closed`. */
  close(): void {
    this.end({ state: 'closed' });
    this.socket?.close(CloseCode.NORMAL);
  }

  private async open(needTicket: boolean): Promise<void> {
    if (needTicket || this.ticket === undefined) {
      try {
        this.ticket = await this.join(this.sessionId);
      } catch (error) {
        if (END_STATES.has(this.current)) return;
        const end = joinFailure(error);
        if (end) this.end(end);
        else this.reconnectLater(true);
        return;
      }
    }
    if (END_STATES.has(this.current)) return;
    const ticket = encodeURIComponent(this.ticket.ticket);
    const url = `${this.ticket.gatewayUrl}?ticket=${ticket}&${DEVICE_QUERY}=${this.deviceId}&${ATTEMPT_QUERY}=${++this.sockets}`;
    const socket = this.options.webSocket(url);
    this.socket = socket;
    this.heardAt = Date.now();
    this.heardSinceBeat = false;
    this.listen(socket);
    socket.onclose = (event) => {
      if (this.socket === socket) this.onClose(event.code);
    };
    socket.onerror = () => undefined; // a close follows every error
    this.startHeartbeat(socket);
  }

  /**
   * Hands each frame of `socket` to onFrame while it is the current socket. `ws` on Node is also an EventEmitter
   * (and says so with its `binaryType`, `nodebuffer` by default, where a browser's is `blob`): its own `message`
   * event hands over the frame without the DOM `MessageEvent` it builds for `onmessage`, an object and two calls
   * less per frame on a device's hot path (issue 15).
   */
  private listen(socket: WebSocketLike): void {
    const node = socket as WebSocketLike & Partial<NodeWebSocket>;
    if (typeof node.on === 'function' && node.binaryType === 'nodebuffer') {
      node.on('message', (data, isBinary) => {
        if (this.socket === socket) this.onFrame(isBinary ? data : data.toString());
      });
    } else {
      socket.onmessage = (event) => {
        if (this.socket === socket) this.onFrame(event.data);
      };
    }
  }

  private onFrame(data: unknown): void {
    // The protocol is JSON text frames only; `ws` and browsers deliver text frames as strings.
    if (typeof data !== 'string') return this.emit('unreadable', { data, reason: 'binary frame' });
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return this.emit('unreadable', { data, reason: 'not JSON' });
    }
    this.heardSinceBeat = true;
    switch (frame.type) {
      case 'rank':
        this.lastRank = frame;
        if (frame.seq !== undefined && frame.seq > this.outbox.confirmed) this.confirm(frame.seq);
        return this.fire(this.handlers.rank, frame);
      case 'welcome':
        return this.onWelcome(frame);
      case 'started':
        this.setState('live');
        this.emit('started', frame);
        return this.send(this.outbox.unconfirmed);
      case 'ended':
      case 'cancelled':
        this.sawEnd = frame;
        if (frame.type === 'ended' && frame.lastSeq !== undefined) this.confirm(frame.lastSeq);
        return frame.type === 'ended' ? this.emit('ended', frame) : this.emit('cancelled', frame);
      case 'error':
        if (frame.code === ErrorCode.BOARD_UNAVAILABLE) this.main = undefined;
        this.emit('error', frame);
        return this.onError(frame);
      case 'waiting':
        return this.emit('waiting', frame);
      case 'rescheduled':
        return this.emit('rescheduled', frame);
      case 'pong':
        return;
      default:
        return this.emit('unreadable', { data, reason: 'unknown frame type' });
    }
  }

  private onWelcome(frame: WelcomeFrame): void {
    this.attempt = 0;
    this.ticketRenewals = 0;
    this.confirm(frame.lastSeq);
    this.setState(frame.state);
    this.emit('welcome', frame);
    this.sendBoard();
    if (frame.state === 'live') this.send(this.outbox.unconfirmed);
  }

  private sendBoard(): void {
    const socket = this.socket;
    if (this.main === undefined || socket === undefined || socket.readyState !== OPEN) return;
    if (this.current !== 'waiting' && this.current !== 'live') return; // sent after the next welcome
    socket.send(JSON.stringify({ type: 'board', main: this.main } satisfies BoardFrame));
  }

  private confirm(seq: number): void {
    this.outbox.confirm(seq);
    const listeners = this.handlers.confirmed;
    if (listeners === undefined) return;
    this.fire(listeners, { seq: this.outbox.confirmed, pending: this.outbox.size });
  }

  private onError(frame: ErrorFrame): void {
    if (frame.resendFrom === undefined) return;
    const retryLater = frame.code === ErrorCode.RATE_LIMITED || frame.code === ErrorCode.UNAVAILABLE;
    if (!retryLater) return this.send(this.outbox.from(frame.resendFrom));
    if (this.resendFrom !== undefined) {
      this.resendFrom = Math.min(this.resendFrom, frame.resendFrom);
      return;
    }
    this.resendFrom = frame.resendFrom;
    this.later(this.options.resendDelayMs, () => {
      const from = this.resendFrom!;
      this.resendFrom = undefined;
      if (this.current === 'live') this.send(this.outbox.from(from));
    });
  }

  private onClose(code: number): void {
    this.stopHeartbeat();
    this.socket = undefined;
    if (END_STATES.has(this.current)) return;
    this.emit('disconnect', { closeCode: code });
    if (END_STATES.has(this.current)) return; // a listener closed the session
    if (code === CloseCode.REPLACED) return this.end({ state: 'replaced', closeCode: code });
    if (code === CloseCode.SESSION_CLOSED || (code === CloseCode.NORMAL && this.sawEnd)) {
      return this.end(this.endOf(code));
    }
    if (code === CloseCode.NORMAL) return this.end({ state: 'closed', closeCode: code });
    if (CLIENT_FAULTS.has(code)) return this.end({ state: 'failed', closeCode: code });
    if (code === CloseCode.UNAUTHORIZED) {
      if (++this.ticketRenewals > this.options.maxTicketRenewals) {
        return this.end({
          state: 'failed',
          closeCode: code,
          error: new Error('the gateway refuses fresh tickets'),
        });
      }
      this.ticket = undefined;
      // A refused ticket is renewed at once: it expired, or the trainee's socket came back after a long pause.
      this.setState('reconnecting', code);
      void this.open(true);
      return;
    }
    // 1012 (gateway restarting), 4429 (slow reader), 1006 (network), anything else: resume elsewhere.
    this.setState('reconnecting', code);
    this.reconnectLater(false);
  }

  private endOf(code: number): LiveEnd {
    const end = this.sawEnd;
    if (end?.type === 'cancelled') return { state: 'cancelled', closeCode: code };
    const ended: LiveEnd = { state: 'ended', closeCode: code, resultsPath: end?.resultsPath };
    if (end?.lastSeq === undefined) return ended;
    return { ...ended, lastSeq: end.lastSeq, notTaken: [...this.outbox.unconfirmed] };
  }

  private reconnectLater(needTicket: boolean): void {
    if (this.current !== 'reconnecting' && this.current !== 'connecting') this.setState('reconnecting');
    const delay = backoffDelayMs(this.attempt++, this.options.backoff, this.options.random);
    this.later(delay, () => void this.open(needTicket));
  }

  private send(ratings: readonly PendingRating[]): void {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== OPEN) return; // kept in the outbox for the next welcome
    if (ratings.length === 0) return;
    let resends = 0;
    for (let i = 0; i < ratings.length; i++) {
      const { seq, energy } = ratings[i];
      socket.send(ratingFrame(seq, energy));
      if (seq <= this.sentUpTo) resends++;
      else this.sentUpTo = seq;
    }
    this.resends += resends;
    const listeners = this.handlers.sent;
    if (listeners !== undefined) this.fire(listeners, { ratings, resends });
  }

  private startHeartbeat(socket: WebSocketLike): void {
    this.stopHeartbeat();
    this.leaveHeartbeat = joinHeartbeat(this.options.pingIntervalMs, () => {
      const now = Date.now();
      if (this.heardSinceBeat) {
        this.heardSinceBeat = false;
        this.heardAt = now;
      }
      const quietMs = now - this.heardAt;
      if (quietMs > this.options.staleMs) {
        // Half-open: the close handshake would wait on a dead peer, so give the socket up right here.
        this.socket = undefined;
        socket.onmessage = socket.onclose = null;
        socket.close();
        this.onClose(1006);
      } else if (quietMs >= this.options.pingIntervalMs / 2 && socket.readyState === OPEN) {
        // Only a quiet socket needs a pong to prove it alive; frames flowing (ranks, at least one a second
        // while live) already do. A socket that read nothing since the last beat pings on every beat (one
        // opened less than half an interval ago waits for the next).
        socket.send(PING_FRAME);
      }
    });
  }

  private stopHeartbeat(): void {
    this.leaveHeartbeat?.();
    this.leaveHeartbeat = undefined;
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!END_STATES.has(this.current)) run();
    }, ms);
    this.timers.add(timer);
  }

  private setState(state: LiveState, closeCode?: number): void {
    if (state === this.current) return;
    const previous = this.current;
    this.current = state;
    this.emit('state', { state, previous, closeCode });
  }

  private end(end: LiveEnd): void {
    if (END_STATES.has(this.current)) return;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.stopHeartbeat();
    this.setState(end.state, end.closeCode);
    this.finish(end);
  }
}

/** 16 random hex digits: a device id (not a secret; Web Crypto where there is one, as in Node 20 and browsers). */
function newDeviceId(): string {
  const bytes = new Uint8Array(8);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What LiveSession uses of `ws`'s own EventEmitter interface (see `listen`). */
interface NodeWebSocket {
  binaryType: string;
  on(event: 'message', listener: (data: { toString(): string }, isBinary: boolean) => void): unknown;
}

/** A join error that ends the session (over, not allowed), or `undefined` for one worth retrying. */
function joinFailure(error: unknown): LiveEnd | undefined {
  if (!(error instanceof PulseApiError)) return undefined; // network: retry
  if (error.code === ErrorCode.INVALID_STATE) {
    const state = (error.details as { state?: string } | undefined)?.state;
    return state === 'cancelled' ? { state: 'cancelled', error } : { state: 'ended', error };
  }
  if (error.code === ErrorCode.UNAVAILABLE || error.code === ErrorCode.RATE_LIMITED) return undefined;
  if (error.code === ErrorCode.INTERNAL) return undefined;
  return { state: 'failed', error };
}
