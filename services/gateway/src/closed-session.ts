import type { JetStreamManager } from '@nats-io/jetstream';
import type { WebSocket } from 'ws';
import { CloseCode, type JoinTicketClaims, type NatsNames } from '@pulse/contracts';
import { InvalidTicket, errorFrame } from './errors.js';
import type { LastSeqSource } from './last-seq.js';
import { closingFrame, lastSessionEvent } from './sessions.js';

export interface ClosedSessionDeps {
  readonly jsm: JetStreamManager;
  readonly names: NatsNames;
  readonly lastSeq: LastSeqSource;
}

/**
 * A device comes back after its session ended with a ticket that expired meanwhile (it cannot get a new one:
 * the API joins only scheduled or live sessions). It is told what it would have been told in time: `cancelled`,
 * or `ended` with its last counted seq once the results are frozen, then close 4410 (issue 14). The socket
 * joins nothing, announces nothing and replaces no other connection. A session that is not over gets what
 * any expired ticket gets: `error` and close 4401.
 */
export async function answerClosedSession(
  ws: WebSocket,
  claims: JoinTicketClaims,
  deps: ClosedSessionDeps,
): Promise<void> {
  const expired = () => {
    ws.send(errorFrame(new InvalidTicket('expired')));
    ws.close(CloseCode.UNAUTHORIZED);
  };
  const event = await lastSessionEvent(deps.jsm, deps.names, claims.sid).catch(() => undefined);
  const status = event?.session.status;
  if (status !== 'ended' && status !== 'cancelled') return expired();
  const final =
    status === 'ended' ? await deps.lastSeq(claims.sid, claims.sub).catch(() => undefined) : undefined;
  ws.send(closingFrame(claims.sid, status, final?.final === true ? final.lastSeq : undefined));
  ws.close(CloseCode.SESSION_CLOSED);
}
