import { DeliverPolicy, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { SessionEvent, type NatsNames, type SessionSnapshot } from '@pulse/contracts';
import type { Logger } from 'pino';
import type { ClickHouseStore } from '../storage/clickhouse.js';
import { LIVE_PULL_EXPIRES_MS, logConsumerNotices } from './consumer-notices.js';

export const FINAL_CHECK_RETRY_MS = 2_000;
/** Ended sessions checked for final results in one ClickHouse query (the start replays every session kept). */
export const FINAL_CHECK_BATCH = 1_000;

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
 * which of its sessions still need an actor. Ended sessions are checked for final results in batches of
 * FINAL_CHECK_BATCH, one ClickHouse query each: checked one by one, the start of an engine took a query per
 * ended session kept in the stream (90 days by default; 19 s for ~2,000 on this box, during which no device
 * could be welcomed).
 */
export class SessionDiscovery {
  private messages: ConsumerMessages | null = null;
  private stopped = false;
  /** Ended sessions without an actor, waiting for their final check. */
  private ended: SessionSnapshot[] = [];

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
    this.messages = await consumer.consume({ expires: LIVE_PULL_EXPIRES_MS });
    const messages = this.messages;
    logConsumerNotices(messages, this.log, 'session events');
    void (async () => {
      for await (const m of messages) {
        try {
          this.onEvent(SessionEvent.parse(m.json()));
        } catch (err) {
          this.log.error({ err, subject: m.subject }, 'session event not handled');
        }
        // The last of the last-per-subject events (or any later one) has nothing pending behind it.
        const last = m.info.pending === 0;
        if (last || this.ended.length >= FINAL_CHECK_BATCH) await this.checkEnded();
        if (last) caughtUp();
      }
    })();
    await initial;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
  }

  private onEvent(event: SessionEvent): void {
    const session = event.session;
    if (session.status === 'ended' && !this.sink.hasActor(session.id)) this.ended.push(session);
    else this.sink.onSession(session);
  }

  /** The ended sessions seen since the last check: final ones need nothing; an engine that was down freezes the rest. */
  private async checkEnded(): Promise<void> {
    const sessions = this.ended;
    this.ended = [];
    if (sessions.length === 0) return;
    const final = await this.finalAmong(sessions.map((s) => s.id));
    for (const session of sessions) {
      if (final.has(session.id) && !this.sink.hasActor(session.id)) {
        this.sink.onFinal(session.id);
        continue;
      }
      if (!final.has(session.id))
        this.log.info({ sessionId: session.id }, 'ended session without final results');
      this.sink.onSession(session);
    }
  }

  /** Which of the sessions' results are frozen; retried while ClickHouse cannot tell (all of them once stopped). */
  private async finalAmong(sessionIds: string[]): Promise<Set<string>> {
    while (!this.stopped) {
      try {
        return await this.store.finalAmong(sessionIds);
      } catch (err) {
        this.log.warn(
          { err, sessions: sessionIds.length },
          'cannot tell whether results are final; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, FINAL_CHECK_RETRY_MS));
      }
    }
    return new Set(sessionIds);
  }
}
