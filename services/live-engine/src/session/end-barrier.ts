/**
 * The end of a session is a barrier (issue 14). A rating belongs to the session when a gateway received it
 * before that gateway learned of the end; on the `ended` event each gateway stores (or refuses) what its
 * clients sent, then publishes an end barrier into the session's partition behind those ratings. The actor
 * freezes results once it has consumed the barrier of every gateway that holds clients of the session. Which
 * gateways those are comes from their presence beats: a gateway whose latest beat for the session counted
 * clients, and that has not been silent for `silenceMs`, is awaited. One that fell silent is gone (its
 * clients never got `ended`, so they were told nothing was taken beyond their last rank); one that beat 0
 * holds no clients. Pure: times are passed in.
 */
export class GatewayPresence {
  private readonly sessions = new Map<string, Map<string, { connected: number; atMs: number }>>();
  private listeningSinceMs: number | null = null;

  /**
   * @param silenceMs a gateway not heard from for this long is considered gone
   * @param settleMs after this long of listening every live gateway has beaten at least once
   */
  constructor(
    private readonly silenceMs: number,
    private readonly settleMs: number,
  ) {}

  /** The beats are followed from now on. */
  listening(nowMs: number): void {
    this.listeningSinceMs ??= nowMs;
  }

  record(sessionId: string, gatewayId: string, connected: number, nowMs: number): void {
    let gateways = this.sessions.get(sessionId);
    if (gateways === undefined) this.sessions.set(sessionId, (gateways = new Map()));
    gateways.set(gatewayId, { connected, atMs: nowMs });
  }

  /** Whether every live gateway has been heard at least once since this engine started listening. */
  settled(nowMs: number): boolean {
    return this.listeningSinceMs !== null && nowMs - this.listeningSinceMs >= this.settleMs;
  }

  /** The gateways that hold clients of the session and are not gone. */
  holding(sessionId: string, nowMs: number): string[] {
    const held: string[] = [];
    for (const [gatewayId, beat] of this.sessions.get(sessionId) ?? []) {
      if (beat.connected > 0 && nowMs - beat.atMs < this.silenceMs) held.push(gatewayId);
    }
    return held;
  }

  /** Drops what no longer counts (called on the engine's tick). */
  prune(nowMs: number): void {
    for (const [sessionId, gateways] of this.sessions) {
      for (const [gatewayId, beat] of gateways) {
        if (nowMs - beat.atMs >= this.silenceMs) gateways.delete(gatewayId);
      }
      if (gateways.size === 0) this.sessions.delete(sessionId);
    }
  }
}

/** What an ending actor needs to know about the gateways (GatewayPresence, or a stand-in in unit tests). */
export interface GatewayBoard {
  settled(nowMs: number): boolean;
  holding(sessionId: string, nowMs: number): string[];
}

export type BarrierState =
  | { readonly passed: false; readonly awaiting: readonly string[] }
  | { readonly passed: true; readonly timedOut: boolean; readonly awaiting: readonly string[] };

/**
 * Whether an ending session may freeze: every gateway holding its clients has sent its barrier, or
 * `maxWaitMs` passed since the end was seen (then it freezes anyway, and the gateways still awaited are
 * reported). Before the board has settled (an engine that just started) nothing passes but the timeout.
 */
export function barrierState(
  sessionId: string,
  barriers: ReadonlySet<string>,
  endSeenAtMs: number,
  nowMs: number,
  board: GatewayBoard,
  maxWaitMs: number,
): BarrierState {
  const awaiting = board.holding(sessionId, nowMs).filter((g) => !barriers.has(g));
  const timedOut = nowMs - endSeenAtMs >= maxWaitMs;
  if (timedOut) return { passed: true, timedOut: awaiting.length > 0 || !board.settled(nowMs), awaiting };
  if (awaiting.length > 0 || !board.settled(nowMs)) return { passed: false, awaiting };
  return { passed: true, timedOut: false, awaiting };
}
