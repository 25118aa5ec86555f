import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { SessionSnapshot } from '@pulse/contracts';
import { LRUCache } from 'lru-cache';
import type { Page } from '../pagination.js';
import type { BoardRow, MinuteTuple } from './final-boards.js';
import type { FreezeListener } from './results-freeze.js';
import { deferred, within } from './waiting.js';
import { personalBoardsOf, type PersonalNumbers } from './personal-view.js';
import type { LeaderboardEntry, MyResult, ResultsPage } from './results-view.js';

/** Bumped when the shape of a results body changes, so clients' stored ETags stop matching. */
const BODY_FORMAT = 2;
/** Frozen sessions kept in memory (a few hundred bytes each). */
export const FROZEN_SESSIONS_CACHED = 10_000;
/** Board pages kept in memory (up to 100 entries of ~200 bytes each: at most ~40 MB). */
export const FROZEN_PAGES_CACHED = 2_000;
/**
 * Participants' own numbers kept in memory, over all sessions, in units of one per participant plus one
 * per minute bucket (~100 bytes a unit: ~100 MB at most). A session's rows are read in one index range
 * scan at its first request, so a stampede costs no query per participant.
 */
export const FROZEN_MEMBER_UNITS = 1_000_000;
/** Sessions with more participants than this are answered by primary key instead of from memory. */
export const LARGE_SESSION_PARTICIPANTS = 50_000;

type Members = Map<string, MyResult | null>;

/** A board this replica decided and has not committed yet (see `decided`). */
interface Unwritten {
  frozen: FrozenSession;
  board: readonly BoardRow[];
  /** Page keys served from the board, forgotten if it is withdrawn. */
  pageKeys: string[];
  /** The board's rows by user, made at the first lookup. */
  byUser?: Map<string, BoardRow>;
  /** Resolved when the board is committed or withdrawn. */
  settled: ReturnType<typeof deferred<void>>;
}

export interface FrozenSession {
  session: SessionSnapshot;
  participants: number;
  frozenAt: Date;
}

/**
 * Reads of frozen results (see ResultsFreezer). A participant's request costs one primary-key lookup (its
 * own row); the board page and the session come from memory after their first read, since neither can
 * change once frozen. Pending reads are shared, so a stampede on a fresh page costs one query.
 */
export class FrozenResults implements FreezeListener {
  private readonly sessions = new LRUCache<string, Promise<FrozenSession | null>>({
    max: FROZEN_SESSIONS_CACHED,
  });
  private readonly pages = new LRUCache<string, Promise<Page<LeaderboardEntry>>>({
    max: FROZEN_PAGES_CACHED,
  });

  /** JSON of the immutable values above (sessions, pages, participants' numbers), written once each. */
  private readonly serializedJson = new WeakMap<object, string>();
  private readonly members = new Map<string, Promise<Members>>();
  /**
   * Boards decided by this replica's freeze and not yet committed, with the page keys served from them and their
   * rows by user (a large session's `me` and the history's wait look them up).
   */
  private readonly unwritten = new Map<string, Unwritten>();
  /** Units of each loaded session in `members` (kept apart: eviction must count synchronously). */
  private readonly memberUnits = new Map<string, number>();
  private membersCached = 0;
  /** The use count at each session's last re-insertion into `members` (see `touch`). */
  private readonly touchedAt = new Map<string, number>();
  private uses = 0;

  /**
   * @param membersBudget units (see FROZEN_MEMBER_UNITS) kept in memory over all sessions
   * @param largeSession sessions with more participants than this are looked up by primary key instead
   */
  constructor(
    private readonly orm: MikroORM,
    private readonly membersBudget = FROZEN_MEMBER_UNITS,
    private readonly largeSession = LARGE_SESSION_PARTICIPANTS,
  ) {}

  /** Units of participants' numbers held in memory now (the budget bounds it). */
  get memberUnitsCached(): number {
    return this.membersCached;
  }

  /**
   * A session this replica is freezing, its board decided (ResultsFreezer): its requests are answered from this
   * board, with no read, from now on. Until `committed` its rows may not be in PostgreSQL yet, so its pages (and
   * a large session's `me`) come from the board too.
   */
  decided(sessionId: string, frozen: FrozenSession, board: readonly BoardRow[]): void {
    this.sessions.set(sessionId, Promise.resolve(frozen));
    this.unwritten.set(sessionId, { frozen, board, pageKeys: [], settled: deferred<void>() });
    if (frozen.participants > this.largeSession || this.members.has(sessionId)) return;
    this.members.set(sessionId, Promise.resolve(new Map(board.map((r) => [r.user_id, myResult(r)]))));
    this.admit(
      sessionId,
      board.reduce((n, r) => n + 1 + r.minutes.length, 0),
    );
  }

  /** The decided board is in PostgreSQL: what was served from it is what a read gives. */
  committed(sessionId: string): void {
    this.unwritten.get(sessionId)?.settled.resolve();
    this.unwritten.delete(sessionId);
  }

  /**
   * Waits, at most `maxMs`, until every board this replica decided with `userId` in its class is committed (or
   * withdrawn). Results are answered from a board once it is decided, its rows written after: a trainee who was
   * just given their results and asks for their history at once would otherwise not find the session there yet.
   * A trainee who joined without reaching the board gets their history row in the same commit: while boards are
   * being written, one indexed read says which of their classes they joined.
   */
  async committedFor(userId: string, maxMs: number): Promise<void> {
    const deadline = performance.now() + maxMs;
    const pending: Promise<void>[] = [];
    const others: string[] = [];
    for (const [sessionId, unwritten] of this.unwritten) {
      if (rowsByUser(unwritten).has(userId)) pending.push(unwritten.settled.promise);
      else others.push(sessionId);
    }
    if (others.length > 0) {
      for (const sessionId of await within(this.joinedAmong(userId, others), maxMs, []))
        pending.push(this.unwritten.get(sessionId)?.settled.promise ?? Promise.resolve());
    }
    if (pending.length > 0) await within(Promise.all(pending), Math.max(0, deadline - performance.now()), []);
  }

  /** Which of `sessionIds` the trainee joined (their registration's `joined_at` is set). */
  private async joinedAmong(userId: string, sessionIds: string[]): Promise<string[]> {
    const rows = await this.orm.em.getConnection().execute<Array<{ session_id: string }>>(
      `select session_id from registration
         where trainee_id = ? and session_id in (${sessionIds.map(() => '?').join(', ')}) and joined_at is not null`,
      [userId, ...sessionIds],
    );
    return rows.map((r) => r.session_id);
  }

  /** The freeze failed after `decided`: nothing of it may be served (the next request freezes again). */
  withdrawn(sessionId: string): void {
    const unwritten = this.unwritten.get(sessionId);
    unwritten?.settled.resolve();
    this.unwritten.delete(sessionId);
    this.sessions.delete(sessionId);
    for (const key of unwritten?.pageKeys ?? []) this.pages.delete(key);
    this.touchedAt.delete(sessionId);
    if (this.members.delete(sessionId)) {
      this.membersCached -= this.memberUnits.get(sessionId) ?? 0;
      this.memberUnits.delete(sessionId);
    }
  }

  /** The frozen session, or null while it is not frozen (null is not cached: it may be frozen soon). */
  async session(sessionId: string): Promise<FrozenSession | null> {
    const unwritten = this.unwritten.get(sessionId);
    if (unwritten !== undefined) return unwritten.frozen;
    let read = this.sessions.get(sessionId);
    if (read === undefined) {
      read = this.readSession(sessionId);
      this.sessions.set(sessionId, read);
    }
    // A read that began before this replica decided the board ends with null (or fails): the entry `decided` put
    // in its place meanwhile answers instead, and stays.
    const settled = await read.then(
      (frozen) => ({ frozen }),
      (err: unknown) => ({ err }),
    );
    if ('frozen' in settled && settled.frozen !== null) return settled.frozen;
    const current = this.sessions.get(sessionId);
    if (current !== undefined && current !== read) return current;
    this.sessions.delete(sessionId);
    if ('err' in settled) throw settled.err;
    return null;
  }

  /** `value` (a frozen session, page or `me` from this cache, never changed) as JSON, serialized once. */
  json(value: object): string {
    let json = this.serializedJson.get(value);
    if (json === undefined) {
      json = JSON.stringify(value);
      this.serializedJson.set(value, json);
    }
    return json;
  }

  /** Strong validator of one caller's view of one page: frozen data, so it never changes. */
  etag(sessionId: string, frozen: FrozenSession, userId: string, page: ResultsPage): string {
    const key = `${BODY_FORMAT}:${sessionId}:${frozen.frozenAt.getTime()}:${page.afterRank}:${page.limit}:${userId}`;
    return `"${createHash('sha256').update(key).digest('base64url').slice(0, 27)}"`;
  }

  page(sessionId: string, page: ResultsPage): Promise<Page<LeaderboardEntry>> {
    const key = `${sessionId}:${page.afterRank}:${page.limit}`;
    let read = this.pages.get(key);
    if (read === undefined) {
      const unwritten = this.unwritten.get(sessionId);
      unwritten?.pageKeys.push(key);
      read = unwritten ? Promise.resolve(pageOf(unwritten.board, page)) : this.readPage(sessionId, page);
      this.pages.set(key, read);
      read.catch(() => this.pages.get(key) === read && this.pages.delete(key));
    }
    return read;
  }

  /**
   * The caller's own numbers; undefined when not on the board. Sessions that fit the budget are read whole
   * once (shared by concurrent callers) and answered from memory; larger ones by primary key.
   */
  async me(sessionId: string, frozen: FrozenSession, userId: string): Promise<MyResult | undefined> {
    // Until the commit its rows may not be in PostgreSQL: a large session (or one whose rows left the budget)
    // answers from the decided board.
    const unwritten = this.unwritten.get(sessionId);
    if (unwritten !== undefined && !this.members.has(sessionId)) {
      const row = rowsByUser(unwritten).get(userId);
      return row === undefined ? undefined : (myResult(row) ?? undefined);
    }
    if (frozen.participants > this.largeSession)
      return (await this.readMember(sessionId, userId)) ?? undefined;
    let read = this.members.get(sessionId);
    if (read === undefined) {
      read = this.readMembers(sessionId); // `touch` below puts it in `members`
      const loading = read;
      read.then(
        (m) => this.admit(sessionId, unitsOf(m)),
        () => {
          if (this.members.get(sessionId) !== loading) return;
          this.members.delete(sessionId);
          this.touchedAt.delete(sessionId);
        },
      );
    }
    this.touch(sessionId, read);
    return (await read).get(userId) ?? undefined;
  }

  /**
   * Marks a session as recently used (a session just being read is put in `members` here): Map order is
   * insertion order (the eviction order of `admit`), so it is re-inserted at the end, but at most once per
   * `members.size / 2` uses of any session. Re-inserting a key on
   * every use costs O(n) per use in V8 once one key is hot (each delete leaves a hole in that key's hash chain
   * until the table is rebuilt: ~15 µs a use at 5,000 sessions), and a stampede on one session is exactly
   * that; a session re-inserted within the last half of the uses is in the newer half of the order anyway.
   */
  private touch(sessionId: string, read: Promise<Members>): void {
    this.uses++;
    const at = this.touchedAt.get(sessionId);
    if (at !== undefined && this.uses - at <= this.members.size / 2) return;
    this.touchedAt.set(sessionId, this.uses);
    this.members.delete(sessionId);
    this.members.set(sessionId, read);
  }

  /** Counts a loaded session against the budget, dropping the least recently used ones above it. */
  private admit(sessionId: string, units: number): void {
    this.memberUnits.set(sessionId, units);
    this.membersCached += units;
    for (const id of this.members.keys()) {
      if (this.membersCached <= this.membersBudget) break;
      const size = this.memberUnits.get(id);
      if (id === sessionId || size === undefined) continue; // still loading, or the one just loaded
      this.members.delete(id);
      this.memberUnits.delete(id);
      this.touchedAt.delete(id);
      this.membersCached -= size;
    }
  }

  private async readMembers(sessionId: string): Promise<Members> {
    const rows = await this.orm.em
      .getConnection()
      .execute<MemberRow[]>(`select ${MEMBER_COLUMNS} from session_result where session_id = ?`, [sessionId]);
    return new Map(rows.map((r) => [r.user_id, myResult(r)]));
  }

  private async readMember(sessionId: string, userId: string): Promise<MyResult | null> {
    const [row] = await this.orm.em
      .getConnection()
      .execute<MemberRow[]>(
        `select ${MEMBER_COLUMNS} from session_result where session_id = ? and user_id = ?`,
        [sessionId, userId],
      );
    return row === undefined ? null : myResult(row);
  }

  private async readSession(sessionId: string): Promise<FrozenSession | null> {
    const [row] = await this.orm.em
      .getConnection()
      .execute<Array<{ session: SessionSnapshot; participants: number; frozen_at: Date }>>(
        'select session, participants, frozen_at from session_result_freeze where session_id = ?',
        [sessionId],
      );
    if (row === undefined) return null;
    return { session: row.session, participants: row.participants, frozenAt: new Date(row.frozen_at) };
  }

  private async readPage(sessionId: string, page: ResultsPage): Promise<Page<LeaderboardEntry>> {
    const rows = await this.orm.em.getConnection().execute<PageRow[]>(
      `select rank, user_id, name, score, calories from session_result
       where session_id = ? and rank > ? order by rank limit ?`,
      [sessionId, page.afterRank, page.limit + 1],
    );
    return pageOf(rows, page);
  }
}

type PageRow = { rank: number | null; user_id: string; name: string; score: number; calories: number };

/**
 * One page of a board from its rows in rank order (a read's `limit + 1` rows after the cursor, or a whole
 * decided board): the entries ranked after `page.afterRank`, and a cursor when more follow.
 */
function pageOf(rows: readonly PageRow[], page: ResultsPage): Page<LeaderboardEntry> {
  const after = rows.filter((r) => r.rank !== null && r.rank > page.afterRank).slice(0, page.limit + 1);
  const items = after.slice(0, page.limit).map((r) => ({
    rank: r.rank!,
    userId: r.user_id,
    name: r.name,
    score: r.score,
    calories: r.calories,
  }));
  const last = items.at(-1);
  return { items, nextCursor: after.length > page.limit && last ? String(last.rank) : null };
}

const MEMBER_COLUMNS = `user_id, rank, score, calories, avg_energy, minutes, band, band_rank, band_participants,
  following_rank, following_participants, personal_best`;
export interface MemberRow extends PersonalNumbers {
  user_id: string;
  rank: number | null;
  score: number;
  calories: number;
  avg_energy: number;
  minutes: MinuteTuple[];
}

/** An unwritten board's rows by user, made at its first lookup. */
function rowsByUser(unwritten: Unwritten): Map<string, BoardRow> {
  unwritten.byUser ??= new Map(unwritten.board.map((r) => [r.user_id, r]));
  return unwritten.byUser;
}

function unitsOf(members: Members): number {
  let units = 0;
  for (const me of members.values()) units += 1 + (me?.minutes.length ?? 0);
  return units;
}

function myResult(row: MemberRow): MyResult | null {
  if (row.rank === null) return null;
  return {
    rank: row.rank,
    score: row.score,
    calories: row.calories,
    avgEnergy: row.avg_energy,
    minutes: row.minutes.map(([minute, avgEnergy, maxEnergy, samples]) => ({
      minute,
      avgEnergy,
      maxEnergy,
      samples,
    })),
    ...personalBoardsOf(row),
  };
}
