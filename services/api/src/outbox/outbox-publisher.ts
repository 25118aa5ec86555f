import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsNames } from '@pulse/contracts';
import type { Logger } from 'pino';
import { outboxSubject } from './outbox.js';
import type { OutboxSignal } from './outbox.js';
import { OutboxEvent } from './outbox-event.entity.js';

export const OUTBOX_BATCH = 100;
const PUBLISH_TIMEOUT_MS = 5_000;
const HOUR_MS = 3_600_000;

export interface OutboxRetention {
  /** Published rows older than this are deleted (default 24 h). */
  retentionMs: number;
  /** How often the delete runs (default 10 min). */
  purgeEveryMs?: number;
}

/**
 * Publishes committed outbox rows to JetStream. Each batch is claimed with FOR UPDATE SKIP LOCKED, so
 * several API replicas share the work without publishing a row twice at the same time; a row is marked
 * published only after its PubAck, and its msgID (= eventId) makes a republish after a crash a duplicate
 * that JetStream drops. Published rows are deleted once older than the retention (they only matter
 * for debugging by then); unpublished rows are never deleted.
 */
export class OutboxPublisher implements OutboxSignal {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** Kicks are ignored until start(): a process that does not run the loop only writes rows. */
  private stopped = true;
  private purgeTimer: NodeJS.Timeout | undefined;
  private purging: Promise<unknown> | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly log: Logger,
    private readonly pollMs: number,
    private readonly retention: OutboxRetention = { retentionMs: 24 * HOUR_MS },
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.purgeTimer = setInterval(() => this.purgeSoon(), this.retention.purgeEveryMs ?? 10 * 60_000);
    this.purgeTimer.unref();
    this.kick();
    this.purgeSoon();
  }

  /** Deletes rows published before `now - retention`; returns how many. */
  async purgePublished(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.retention.retentionMs);
    return this.orm.em.fork().nativeDelete(OutboxEvent, { publishedAt: { $lt: cutoff } });
  }

  private purgeSoon(): void {
    if (this.stopped || this.purging) return;
    this.purging = this.purgePublished()
      .then((deleted) => {
        if (deleted > 0) this.log.info({ deleted }, 'outbox: deleted old published rows');
      })
      .catch((err: unknown) => this.log.warn({ err }, 'outbox: deleting old rows failed, will retry'))
      .finally(() => (this.purging = undefined));
  }

  /** Called right after a commit: publish now rather than at the next poll. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Stops polling and waits for the batch in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.purgeTimer);
    await Promise.all([this.running, this.purging]);
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped && (await this.publishBatch()) === OUTBOX_BATCH);
    } catch (err) {
      this.log.warn({ err }, 'outbox: publishing failed, will retry');
    }
  }

  /**
   * Publishes one batch of committed rows and marks those JetStream stored; returns how many. The rows' publishes
   * are in flight together, one subject's rows one after another in the order they were committed: consumers read
   * a subject's last event as its truth (a session's lifecycle, a trainee's registration), and a failed row stops
   * its subject's later rows until the next attempt. Rows of other subjects do not wait for it: one await per row
   * in turn held 500 classes ending on the hour behind each other's JetStream round trips (issue 12).
   */
  async publishBatch(): Promise<number> {
    return this.orm.em.fork().transactional(async (tx) => {
      const rows = await tx.find(
        OutboxEvent,
        { publishedAt: null },
        {
          orderBy: { createdAt: 'asc', id: 'asc' },
          limit: OUTBOX_BATCH,
          lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE,
        },
      );
      const bySubject = new Map<string, Promise<boolean>>();
      const outcomes = rows.map((row) => {
        const subject = outboxSubject(this.names, row);
        const previous = bySubject.get(subject) ?? Promise.resolve(true);
        const outcome = previous.then((ok) => ok && this.publish(subject, row));
        bySubject.set(subject, outcome);
        return outcome;
      });
      return (await Promise.all(outcomes)).filter(Boolean).length;
    });
  }

  /** Publishes one row and marks it; false (the row counted as attempted) when JetStream did not store it. */
  private async publish(subject: string, row: OutboxEvent): Promise<boolean> {
    try {
      await this.js.publish(subject, JSON.stringify(row.payload), {
        msgID: row.id,
        timeout: PUBLISH_TIMEOUT_MS,
      });
    } catch (err) {
      row.attempts += 1;
      this.log.warn({ err, eventId: row.id, attempts: row.attempts }, 'outbox: publish failed');
      return false;
    }
    row.publishedAt = new Date();
    return true;
  }
}
