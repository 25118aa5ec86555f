import type { ConsumerMessages, ConsumerNotification } from '@nats-io/jetstream';
import type { Logger } from 'pino';

/**
 * How long one pull request of a live consumer (`consume()`) stays open. nats.js asks for server heartbeats at
 * half of it and, when two are missed, drops what it believes is pending and pulls again: with the default
 * 30 s, a pull the server no longer held would leave a partition's or the session events' consumer idle for up
 * to ~30 s (one 500 x 20 run of the harness saw ~1,000 devices' ratings wait ~35 s; with 5 s pulls the same
 * runs show consumers missing their heartbeats and pulling again within ~5 s, why they go quiet is not known:
 * benchmarks/RESULTS.md). The cost is a fresh pull per consumer every 5 s while it is idle.
 */
export const LIVE_PULL_EXPIRES_MS = 5_000;

/** Notices that say a consumer stalled, was replaced or lost: worth a line in the log. */
const NOTABLE: ReadonlySet<ConsumerNotification['type']> = new Set([
  'heartbeats_missed',
  'consumer_not_found',
  'stream_not_found',
  'consumer_deleted',
  'ordered_consumer_recreated',
  'exceeded_limits',
  'reset',
  'no_responders',
]);

/** Logs a live consumer's notable notices (the routine ones — heartbeats, pulls, expiries — are skipped). */
export function logConsumerNotices(messages: ConsumerMessages, log: Logger, consumer: string): void {
  void (async () => {
    for await (const notice of messages.status()) {
      if (NOTABLE.has(notice.type)) log.warn({ consumer, notice }, 'JetStream consumer notice');
    }
  })().catch((err: unknown) => log.warn({ err, consumer }, 'JetStream consumer notices ended'));
}
