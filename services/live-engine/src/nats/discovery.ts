import { DeliverPolicy, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { SessionEvent, type NatsNames, type SessionSnapshot } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { ClickHouseStore } from '../storage/clickhouse.js';

export const FINAL_CHECK_RETRY_MS = 2_000;

/** Where discovery reports what it learns (the engine's Partitions). */
export interface SessionSink {
  onSession(session: SessionSnapshot): void;
  hasActor(sessionId: string): boolean;
  /** An ended session whose results are final: nothing to run. */
  onFinal(sessionId: string): void;
}

/**
 * Learns which sessions exist from the session-events stream: the last event of every session first, then
 * every new one, for the life of the process. `start()` resolves once the last events of all sessions are
 * handled (and every ended one checked for final results), so that a partition replayed afterwards knows
 * which of its sessions still need an actor.
 */
export class SessionDiscovery {
  private messages: ConsumerMessages | null = null;
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly sink: SessionSink,
    private readonly store: ClickHouseStore,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const jsm = await this.js.jetstreamManager(false);
    const stored = (await jsm.streams.info(this.names.eventsStream)).state.messages;
    const consumer = await this.js.consumers.get(this.names.eventsStream, {
      filter_subjects: this.names.allSessionEvents,
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    let caughtUp: () => void = () => undefined;
    const initial = new Promise<void>((resolve) => (caughtUp = resolve));
    if (stored === 0) caughtUp();
    this.messages = await consumer.consume();
    const messages = this.messages;
    void (async () => {
      for await (const m of messages) {
        try {
          await this.onEvent(SessionEvent.parse(m.json()));
        } catch (err) {
          this.log.error({ err, subject: m.subject }, 'session event not handled');
        }
        // The last of the last-per-subject events (or any later one) has nothing pending behind it.
        if (m.info.pending === 0) caughtUp();
      }
    })();
    await initial;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
  }

  private async onEvent(event: SessionEvent): Promise<void> {
    const session = event.session;
    if (session.status === 'ended' && !this.sink.hasActor(session.id) && (await this.isFinal(session))) {
      this.sink.onFinal(session.id);
      return;
    }
    this.sink.onSession(session);
  }

  /** Whether an ended session's results are frozen; an engine that was down during the end still freezes them. */
  private async isFinal(session: SessionSnapshot): Promise<boolean> {
    while (!this.stopped) {
      try {
        const final = await this.store.isFinal(session.id);
        if (!final) this.log.info({ sessionId: session.id }, 'ended session without final results');
        return final;
      } catch (err) {
        this.log.warn({ err, sessionId: session.id }, 'cannot tell whether results are final; retrying');
        await new Promise((resolve) => setTimeout(resolve, FINAL_CHECK_RETRY_MS));
      }
    }
    return true;
  }
}
