/**
 * Soft state: how many clients each gateway holds per session, from their periodic beats. An entry
 * expires after `ttlMs` so a gateway that died stops counting. Pure: `nowMs` is passed in.
 */
export class PresenceBoard {
  private readonly sessions = new Map<string, Map<string, { connected: number; atMs: number }>>();

  constructor(private readonly ttlMs: number) {}

  record(sessionId: string, gatewayId: string, connected: number, nowMs: number): void {
    let gateways = this.sessions.get(sessionId);
    if (!gateways) this.sessions.set(sessionId, (gateways = new Map()));
    gateways.set(gatewayId, { connected, atMs: nowMs });
  }

  /**
   * Participants connected to a session over all gateways. This gateway's own count is taken live
   * (`self`) rather than from its last beat, so a client's own welcome counts it.
   */
  count(sessionId: string, nowMs: number, self: { gatewayId: string; connected: number }): number {
    let total = self.connected;
    for (const [gatewayId, entry] of this.sessions.get(sessionId) ?? []) {
      if (gatewayId !== self.gatewayId && nowMs - entry.atMs <= this.ttlMs) total += entry.connected;
    }
    return total;
  }

  /** Whether a live (not expired) beat of this gateway is on the board. */
  knows(sessionId: string, gatewayId: string, nowMs: number): boolean {
    const entry = this.sessions.get(sessionId)?.get(gatewayId);
    return entry !== undefined && nowMs - entry.atMs <= this.ttlMs;
  }

  forget(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  /** Drops expired entries (called once per interval so the board does not grow). */
  prune(nowMs: number): void {
    for (const [sessionId, gateways] of this.sessions) {
      for (const [gatewayId, entry] of gateways) {
        if (nowMs - entry.atMs > this.ttlMs) gateways.delete(gatewayId);
      }
      if (gateways.size === 0) this.sessions.delete(sessionId);
    }
  }
}
