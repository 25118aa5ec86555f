import type { NatsConnection } from '@nats-io/transport-node';
import { LastSeqRequest, type LastSeqReply, type NatsNames } from '@pulse/contracts';
import type { Logger } from 'pino';
import { subscribeParsed } from './subscribe-parsed.js';

/** A user's last counted seq in a session (0 when none), as this engine's actors know it. */
export type LastSeqAnswer = (sessionId: string, userId: string) => Promise<LastSeqReply>;

export interface Responder {
  stop(): void;
}

/**
 * Answers the gateways' LastSeqRequests for one partition on core NATS while this engine runs it, from the
 * moment it takes the partition: an answer is never above a stored rating (the engine counts only stored ones);
 * during the replay it may be below, which only makes the device resend ratings the engine then ignores. A
 * malformed request gets no answer; the gateway's request times out.
 */
export function serveLastSeq(
  nc: NatsConnection,
  names: NatsNames,
  partition: number,
  answer: LastSeqAnswer,
  log: Logger,
): Responder {
  const sub = subscribeParsed(nc, names.lastSeqRequest(partition), LastSeqRequest, (request, msg) => {
    answer(request.sessionId, request.userId).then(
      (reply) => msg.respond(JSON.stringify(reply satisfies LastSeqReply)),
      (e: unknown) => log.warn({ err: e, partition }, 'lastSeq request not answered'),
    );
  });
  return { stop: () => sub.unsubscribe() };
}
