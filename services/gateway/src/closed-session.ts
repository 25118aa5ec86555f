import type { JetStreamManager } from '@nats-io/jetstream';
import type { WebSocket } from 'ws';
import { CloseCode, SessionEvent, type JoinTicketClaims, type NatsNames } from '@pulse/contracts';
import { endedFrame } from './end-barrier.js';
import { InvalidTicket, errorFrame } from './errors.js';
import type { LastSeqSource } from './last-seq.js';

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
  let status: string | undefined;
  try {
    const last = await deps.jsm.streams.getMessage(deps.names.eventsStream, {
      last_by_subj: deps.names.sessionEvent(claims.sid),
    });
    const event = last ? SessionEvent.safeParse(last.json()) : null;
    status = event?.success ? event.data.session.status : undefined;
  } catch {
    status = undefined;
  }
  if (status === 'cancelled') {
    ws.send(JSON.stringify({ type: 'cancelled' }));
    ws.close(CloseCode.SESSION_CLOSED);
    return;
  }
  if (status !== 'ended') return expired();
  const final = await deps.lastSeq(claims.sid, claims.sub).catch(() => undefined);
  ws.send(endedFrame(claims.sid, final?.final === true ? final.lastSeq : undefined));
  ws.close(CloseCode.SESSION_CLOSED);
}
