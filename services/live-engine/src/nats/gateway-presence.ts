import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { PresenceBeat, type NatsNames } from '@pulse/contracts';
import type { GatewayPresence } from '../session/end-barrier.js';
import { subscribeParsed } from './subscribe-parsed.js';

/**
 * Feeds the gateways' presence beats (core NATS, every session) into the board the ending actors consult:
 * which gateways hold clients of a session and so owe it an end barrier. A malformed beat is ignored.
 */
export function followGatewayPresence(
  nc: NatsConnection,
  names: NatsNames,
  board: GatewayPresence,
  now: () => number,
): Subscription {
  board.listening(now());
  return subscribeParsed(nc, names.allPresence, PresenceBeat, (beat) =>
    board.record(beat.sessionId, beat.gatewayId, beat.connected, now()),
  );
}
