import type { MikroORM } from '@mikro-orm/postgresql';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { SessionEvent } from '@pulse/contracts';
import type { NatsNames } from '@pulse/contracts';
import type { ResultsFreezer } from './results-freeze.js';

/** How often ClickHouse is asked whether a just-ended session is final (the ≤ 2 s target of issue 13). */
export const FREEZE_POLL_MS = 200;
/** After this long unfrozen, a session is asked about only every FREEZE_SLOW_POLL_MS. */
export const FREEZE_FAST_WINDOW_MS = 60_000;
export const FREEZE_SLOW_POLL_MS = 5_000;
/** PostgreSQL is scanned for ended, unfrozen sessions this often (ends this replica did not hear of). */
export const FREEZE_SCAN_MS = 10_000;
const BATCH = 500;

interface Watched {
  firstAt: number;
  nextAt: number;
}

/**
 * Freezes sessions soon after they end, so results are ready before most clients ask. Every API replica
 * runs one: it hears `ended` on the session events subject (core NATS, no consumer), polls ClickHouse
 * for the watched sessions in one query per tick, and rescans PostgreSQL now and then for ends it missed
 * (a restart, a NATS hiccup). Which replica freezes does not matter: the freeze is idempotent.
 */
export class FreezeWatch {
  private readonly watched = new Map<string, Watched>();
  private subscription: Subscription | null = null;
  private timer: NodeJS.Timeout | null = null;
  private tickRunning: Promise<void> | null = null;
  private lastScanAt = 0;

  constructor(
    private readonly freezer: ResultsFreezer,
    private readonly orm: MikroORM,
    private readonly nats: NatsConnection,
    private readonly names: NatsNames,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.subscription = this.nats.subscribe(this.names.allSessionEvents, {
      callback: (err, msg) => {
        if (err !== null) return;
        const event = SessionEvent.safeParse(safeJson(msg.data));
        if (event.success && event.data.type === 'ended') this.watch(event.data.session.id);
      },
    });
    this.timer = setInterval(() => this.tick(), FREEZE_POLL_MS);
  }

  /** Ask about this session at the next tick (also called when a results request finds it unfrozen). */
  watch(sessionId: string): void {
    const now = this.now();
    const known = this.watched.get(sessionId);
    if (known === undefined) this.watched.set(sessionId, { firstAt: now, nextAt: now });
  }

  get watching(): number {
    return this.watched.size;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.subscription?.unsubscribe();
    this.subscription = null;
    await this.tickRunning;
  }

  private tick(): void {
    if (this.tickRunning !== null) return;
    this.tickRunning = this.freezeDue()
      .catch((err: unknown) => this.log.warn({ err }, 'freezing results failed; retrying'))
      .finally(() => (this.tickRunning = null));
  }

  private async freezeDue(): Promise<void> {
    const now = this.now();
    if (now - this.lastScanAt >= FREEZE_SCAN_MS) {
      this.lastScanAt = now;
      await this.scan();
    }
    const due = [...this.watched].filter(([, w]) => w.nextAt <= now).slice(0, BATCH);
    if (due.length === 0) return;
    const final = new Set(await this.freezer.finalAmong(due.map(([id]) => id)));
    // Asked together, frozen together (one batch in the freezer).
    const outcomes = await Promise.all(
      due.map(([id]) => (final.has(id) ? this.freezer.freeze(id) : Promise.resolve('pending' as const))),
    );
    for (const [i, [id, w]] of due.entries()) {
      if (outcomes[i] !== 'pending') this.watched.delete(id);
      else w.nextAt = now + (now - w.firstAt < FREEZE_FAST_WINDOW_MS ? FREEZE_POLL_MS : FREEZE_SLOW_POLL_MS);
    }
  }

  private async scan(): Promise<void> {
    const rows: Array<{ id: string }> = await this.orm.em.fork().execute(
      `select s.id from workout_session s
       where s.status = 'ended'
         and not exists (select 1 from session_result_freeze f where f.session_id = s.id)
       order by s.ended_at desc limit ?`,
      [BATCH],
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
