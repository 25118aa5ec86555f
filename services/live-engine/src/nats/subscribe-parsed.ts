import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';

/**
 * A core NATS subscription whose messages are JSON of one contract schema: `handle` gets each valid one (with
 * its message, to reply); a message that is not JSON or not of the schema is ignored.
 */
export function subscribeParsed<S extends z.ZodTypeAny>(
  nc: NatsConnection,
  subject: string,
  schema: S,
  handle: (value: z.infer<S>, msg: Msg) => void,
): Subscription {
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err !== null) return;
      let body: unknown;
      try {
        body = msg.json();
      } catch {
        return;
      }
      const parsed = schema.safeParse(body);
      if (parsed.success) handle(parsed.data, msg);
    },
  });
}
