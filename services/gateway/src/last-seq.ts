import type { NatsConnection } from '@nats-io/transport-node';
import { LastSeqReply, partitionOf, type LastSeqRequest, type NatsNames } from '@pulse/contracts';

/** A user's last counted seq in a session, for their `welcome.lastSeq` (`final`: in the frozen results). */
export type LastSeqSource = (
  sessionId: string,
  userId: string,
) => Promise<{ lastSeq: number; final: boolean }>;

/**
 * Asks the engine that owns the session's partition (core NATS request). Ratings travel in batch messages
 * (issue 12), so JetStream has no per-user "last message" any more; the engine knows each participant's last
 * counted seq. It may be below what JetStream stores (a batch not yet consumed): the device then resends a few
 * ratings the engine ignores, which is harmless; it is never above a stored one. No answer within `timeoutMs`
 * (no owner during a failover, NATS down) rejects, and the connect is refused with UNAVAILABLE + 1012.
 */
export function engineLastSeq(nc: NatsConnection, names: NatsNames, timeoutMs: number): LastSeqSource {
  return async (sessionId, userId) => {
    const request: LastSeqRequest = { sessionId, userId };
    const reply = await nc.request(names.lastSeqRequest(partitionOf(sessionId)), JSON.stringify(request), {
      timeout: timeoutMs,
    });
    const { lastSeq, final } = LastSeqReply.parse(reply.json());
    return { lastSeq, final: final === true };
  };
}
