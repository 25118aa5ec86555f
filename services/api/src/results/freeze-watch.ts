import type { MikroORM } from '@mikro-orm/postgresql';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ResultsFinal, SessionEvent } from '@pulse/contracts';
import type { NatsNames } from '@pulse/contracts';
import type { ResultsFreezer } from './results-freeze.js';

/** How often ClickHouse is asked whether a just-ended session is final (the ≤ 2 s target of issue 13). */
export const FREEZE_POLL_MS = 200;
/** After this long unfrozen, a session is asked about only every FREEZE_SLOW_POLL_MS. */
export const FREEZE_FAST_WINDOW_MS = 60_000;
export const FREEZE_SLOW_POLL_MS = 5_000;
/** PostgreSQL is scanned for ended, unfrozen sessions this often (ends this replica did not hear of). */
export const FREEZE_SCAN_MS = 10_000;
/** That scan looks at sessions that started this recently (an index range, not every session ever). */
export const FREEZE_RECENT_MS = 2 * 86_400_000;
/** A session still not final after this long is no longer polled (a request still tries to freeze it). */
export const FREEZE_GIVE_UP_MS = 3_600_000;
const BATCH = 500;

interface Watched {
  firstAt: number;
  nextAt: number;
  /** Seen final and handed to the freezer; not asked about again until its freeze ends. */
  freezing: boolean;
}

/**
 * Freezes sessions soon after they end, so results are ready before most clients ask. Every API replica
 * runs one: it hears `ended` on the session events subject (core NATS, no consumer), polls ClickHouse
 * for the watched sessions in one query per tick, and rescans PostgreSQL now and then for ends it missed
 * (a restart, a NATS hiccup). The engine's ResultsFinal notice makes a session due at once (up to a poll
 * sooner); a lost notice costs at most that poll. Which replica freezes does not matter: the freeze is
 * idempotent.
 *
 * Scans ride the `workout_session (status, starts_at, id)` index: at start one pass over every ended session
 * (a page per tick, keyset on starts_at and id: it catches up whatever ended while no API ran, including
 * sessions that ended before frozen results existed), then only sessions that started in the last
 * FREEZE_RECENT_MS — so the periodic cost does not grow with the years of classes behind it.
 */
export class FreezeWatch {
  private readonly watched = new Map<string, Watched>();
  private subscriptions: Subscription[] = [];
  private timer: NodeJS.Timeout | null = null;
  private tickRunning: Promise<void> | null = null;
  private tickAgain = false;
  /** Freezes handed to the freezer and not ended yet (stop waits for them). */
  private readonly freezing = new Set<Promise<void>>();
  private lastScanAt = 0;
  /** Keyset position of the pass over every ended session made once per start; null when it is done. */
  private backfill: { startsAt: string; id: string } | 'start' | null = 'start';

  constructor(
    private readonly freezer: ResultsFreezer,
    private readonly orm: MikroORM,
    private readonly nats: NatsConnection,
    private readonly names: NatsNames,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.subscriptions = [
      this.nats.subscribe(this.names.allSessionEvents, {
        callback: (err, msg) => {
          if (err !== null) return;
          const event = SessionEvent.safeParse(safeJson(msg.data));
          if (event.success && event.data.type === 'ended') this.watch(event.data.session.id);
        },
      }),
      this.nats.subscribe(this.names.allResultsFinal, {
        callback: (err, msg) => {
          if (err !== null) return;
          const notice = ResultsFinal.safeParse(safeJson(msg.data));
          if (notice.success) this.noticedFinal(notice.data.sessionId);
        },
      }),
    ];
    this.timer = setInterval(() => this.tick(), FREEZE_POLL_MS);
  }

  /** Ask about this session at the next tick (also called when a results request finds it unfrozen). */
  watch(sessionId: string): void {
    const now = this.now();
    const known = this.watched.get(sessionId);
    if (known === undefined) this.watched.set(sessionId, { firstAt: now, nextAt: now, freezing: false });
  }

  /**
   * The engine's word that a session's final results are stored: ask ClickHouse now, not at the next poll; a
   * pass in progress may have asked before the session was final, so then right after it.
   */
  private noticedFinal(sessionId: string): void {
    this.watch(sessionId);
    this.watched.get(sessionId)!.nextAt = this.now();
    if (this.tickRunning !== null) this.tickAgain = true;
    else this.tick();
  }

  get watching(): number {
    return this.watched.size;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [];
    await this.tickRunning;
    await Promise.all(this.freezing);
  }

  private tick(): void {
    if (this.tickRunning !== null) return;
    this.tickRunning = this.freezeDue()
      .catch((err: unknown) => this.log.warn({ err }, 'freezing results failed; retrying'))
      .finally(() => {
        this.tickRunning = null;
        if (this.tickAgain && this.timer !== null) {
          this.tickAgain = false;
          this.tick();
        }
      });
  }

  private async freezeDue(): Promise<void> {
    const now = this.now();
    if (this.backfill !== null) await this.backfillPage();
    else if (now - this.lastScanAt >= FREEZE_SCAN_MS) {
      this.lastScanAt = now;
      await this.scanRecent(new Date(now - FREEZE_RECENT_MS));
    }
    const due = [...this.watched].filter(([, w]) => w.nextAt <= now && !w.freezing).slice(0, BATCH);
    if (due.length === 0) return;
    const final = new Set(await this.freezer.finalAmong(due.map(([id]) => id)));
    // The final ones go to the freezer, which freezes what it is handed meanwhile as its next batch; this pass
    // does not wait for them, so the sessions that turn final during a freeze are asked about and queued
    // while it writes, not after it.
    const handed: Array<Promise<unknown>> = [];
    for (const [id, w] of due) {
      if (!final.has(id)) {
        this.later(id, w, now);
        continue;
      }
      w.freezing = true;
      handed.push(
        this.freezer.freeze(id).then(
          (outcome) => {
            w.freezing = false;
            if (outcome === 'pending') this.later(id, w, this.now());
            else this.watched.delete(id);
          },
          (err: unknown) => {
            w.freezing = false;
            this.later(id, w, this.now());
            throw err;
          },
        ),
      );
    }
    if (handed.length === 0) return;
    const freezing = Promise.allSettled(handed).then((outcomes) => {
      const failed = outcomes.filter((o) => o.status === 'rejected');
      if (failed.length > 0)
        this.log.warn(
          { err: failed[0].reason, sessions: failed.length },
          'freezing results failed; retrying',
        );
    });
    this.freezing.add(freezing);
    void freezing.finally(() => this.freezing.delete(freezing));
  }

  /** Asks about a session not frozen yet again soon, less often after a minute, not at all after an hour. */
  private later(id: string, w: Watched, now: number): void {
    if (now - w.firstAt >= FREEZE_GIVE_UP_MS) {
      this.watched.delete(id);
      this.log.warn({ sessionId: id }, 'ended session still not final in ClickHouse; no longer polled');
    } else w.nextAt = now + (now - w.firstAt < FREEZE_FAST_WINDOW_MS ? FREEZE_POLL_MS : FREEZE_SLOW_POLL_MS);
  }

  /** One page of the pass over every ended session (oldest first); the pass ends with a short page. */
  private async backfillPage(): Promise<void> {
    const after = this.backfill === 'start' ? null : this.backfill;
    const rows: Array<{ id: string; starts_at: string; frozen: boolean }> = await this.orm.em.fork().execute(
      `select s.id, s.starts_at::text as starts_at,
                exists (select 1 from session_result_freeze f where f.session_id = s.id) as frozen
         from workout_session s
         where s.status = 'ended' ${after ? 'and (s.starts_at, s.id) > (?::timestamptz, ?)' : ''}
         order by s.starts_at, s.id limit ?`,
      after ? [after.startsAt, after.id, BATCH] : [BATCH],
    );
    for (const row of rows) if (!row.frozen) this.watch(row.id);
    const last = rows.at(-1);
    this.backfill =
      rows.length < BATCH || last === undefined ? null : { startsAt: last.starts_at, id: last.id };
  }

  private async scanRecent(since: Date): Promise<void> {
    const rows: Array<{ id: string }> = await this.orm.em.fork().execute(
      `select s.id from workout_session s
       where s.status = 'ended' and s.starts_at > ?
         and not exists (select 1 from session_result_freeze f where f.session_id = s.id)
       order by s.starts_at desc, s.id desc limit ?`,
      [since, BATCH],
    );
    for (const { id } of rows) this.watch(id);
  }
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
