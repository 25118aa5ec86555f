import { DeliverPolicy, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { SessionEvent, type NatsNames, type SessionSnapshot } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { ActorRegistry } from '../session/registry.js';
import type { ClickHouseStore } from '../storage/clickhouse.js';

export const FINAL_CHECK_RETRY_MS = 2_000;

/**
 * Learns which sessions exist from the session-events stream: the last event of every session first, then
 * every new one, for the life of the process. Live → an actor; ended → that actor freezes the results (or a
 * new one rebuilds them when the engine missed the end); cancelled → the actor goes.
 */
export class SessionDiscovery {
  private messages: ConsumerMessages | null = null;
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly registry: ActorRegistry,
    private readonly store: ClickHouseStore,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const consumer = await this.js.consumers.get(this.names.eventsStream, {
      filter_subjects: this.names.allSessionEvents,
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    this.messages = await consumer.consume();
    const messages = this.messages;
    void (async () => {
      for await (const m of messages) {
        try {
          await this.onEvent(SessionEvent.parse(m.json()));
        } catch (err) {
          this.log.error({ err, subject: m.subject }, 'session event not handled');
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
  }

  private async onEvent(event: SessionEvent): Promise<void> {
    const session = event.session;
    switch (session.status) {
      case 'live':
        this.registry.ensure(session);
        return;
      case 'ended':
        // Without an actor here, whoever owns (or will own) the session rebuilds it unless it is frozen.
        if (this.registry.get(session.id) !== undefined) this.registry.end(session);
        else void this.rebuildIfNotFinal(session);
        return;
      case 'cancelled':
        await this.registry.cancel(session.id);
        return;
      default:
        return;
    }
  }

  /** An engine that was down while a session ended still freezes its results. */
  private async rebuildIfNotFinal(session: SessionSnapshot): Promise<void> {
    while (!this.stopped) {
      try {
        if (!(await this.store.isFinal(session.id))) {
          this.log.info({ sessionId: session.id }, 'ended session without final results: rebuilding');
          this.registry.end(session);
        }
        return;
      } catch (err) {
        this.log.warn({ err, sessionId: session.id }, 'cannot tell whether results are final; retrying');
        await new Promise((resolve) => setTimeout(resolve, FINAL_CHECK_RETRY_MS));
      }
    }
  }
}
