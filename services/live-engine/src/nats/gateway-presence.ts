import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { PresenceBeat, type NatsNames } from '@pulse/contracts';
import type { GatewayPresence } from '../session/end-barrier.js';

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
  return nc.subscribe(names.allPresence, {
    callback: (err, msg) => {
      if (err !== null) return;
      let body: unknown;
      try {
        body = msg.json();
      } catch {
        return;
      }
      const beat = PresenceBeat.safeParse(body);
      if (beat.success) board.record(beat.data.sessionId, beat.data.gatewayId, beat.data.connected, now());
    },
  });
}
