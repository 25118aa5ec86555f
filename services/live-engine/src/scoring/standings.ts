import {
  AGE_BANDS,
  BAND_TOP_SIZE,
  SCORE_ALLOWANCE,
  type AgeBand,
  type BandBoard,
  type MinuteRow,
  type RankSnapshot,
  type StandingRow,
  type TopEntry,
} from '@pulse/contracts';
import { Leaderboard } from '../ranking/leaderboard.js';
import {
  avgEnergy,
  bucketAvgEnergy,
  calories,
  countRating,
  minuteOf,
  newParticipant,
  round2,
  toCenti,
  withinAllowance,
  type AllowanceRule,
  type MinuteBucket,
  type Participant,
} from './participant.js';
import { participantColumns, participantsOf, type StandingsState } from './standings-state.js';

export const TOP_SIZE = 10;

/** What became of one rating: counted, a seq counted already, or above the user's score allowance. */
export type RatingOutcome = 'counted' | 'duplicate' | 'over_allowance';

/**
 * The whole scoring state of one session: participants, their leaderboard and what changed since the last
 * publish and the last results write. Pure; the session actor feeds it and ships what it returns.
 */
export class SessionStandings {
  readonly board = new Leaderboard<Participant>();
  /**
   * One board per age band (issue 16), indexed like AGE_BANDS, holding the participants who opted in: the same
   * order-statistic treap, so a rank within a band costs O(log n) and a band's top is a short walk.
   */
  private readonly bandBoards: Array<Leaderboard<Participant> | null> = AGE_BANDS.map(() => null);
  private readonly participants = new Map<string, Participant>();
  private order = 0;
  private dirtyMinutes = new Map<MinuteBucket, string>();
  /** True when standings changed since the last rank snapshot. */
  changed = false;
  /** Users whose own entry (seq, score, name) changed since the last snapshot of either kind. */
  private readonly dirty = new Set<string>();

  constructor(
    readonly sessionId: string,
    private startMs: number,
    readonly minuteMs: number,
    private readonly allowance: AllowanceRule = SCORE_ALLOWANCE,
  ) {}

  /** When the session started (minute 0 begins here); set once it is known. */
  get startedAtMs(): number {
    return this.startMs;
  }

  /**
   * The session started at `startedAtMs`. An actor may exist before (trainees join in the waiting room);
   * it counts no rating before the start is known, so no minute bucket was computed from another start.
   */
  start(startedAtMs: number): void {
    this.startMs = startedAtMs;
  }

  get size(): number {
    return this.participants.size;
  }

  participant(userId: string): Participant | undefined {
    return this.participants.get(userId);
  }

  /** Every participant's last counted seq (what a frozen session's devices are told). */
  lastSeqs(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [userId, p] of this.participants) out.set(userId, p.lastSeq);
    return out;
  }

  /**
   * A trainee connected: on the board with score 0, or their name and weight updated; on their age band's
   * board when they opted in (`band`), moved or taken off it when that changed.
   */
  join(userId: string, name: string, weightKg: number, band?: AgeBand): void {
    const p = this.ensure(userId);
    p.name = name;
    p.weightKg = weightKg;
    const index = band === undefined ? -1 : AGE_BANDS.findIndex((b) => b.id === band);
    if (index !== p.band) {
      if (p.band >= 0) this.bandBoards[p.band]!.remove(userId);
      p.band = index;
      if (index >= 0) this.bandBoardOf(index).upsert(userId, p.scoreCenti, p.reachedOrder, p);
    }
    this.changed = true;
    this.dirty.add(userId);
  }

  /** Whether anyone of the session is on an age-band board (snapshots then carry the band columns). */
  get hasBands(): boolean {
    return this.bandBoards.some((b) => b !== null && b.size > 0);
  }

  private bandBoardOf(index: number): Leaderboard<Participant> {
    return (this.bandBoards[index] ??= new Leaderboard<Participant>());
  }

  /** Each band's board as a snapshot carries it: participants and top BAND_TOP_SIZE (null when empty). */
  private bandSummaries(): Array<BandBoard | null> {
    return this.bandBoards.map((board) =>
      board === null || board.size === 0
        ? null
        : {
            participants: board.size,
            top: board.top(BAND_TOP_SIZE).map(({ userId, scoreCenti, rank, value }) => ({
              rank,
              userId,
              name: value!.name,
              score: scoreCenti / 100,
            })),
          },
    );
  }

  /**
   * Counts one reading unless its seq was counted already or the user is above the score allowance. A
   * rating above the allowance still moves the user's seq (the device is not asked to resend it).
   */
  rate(userId: string, seq: number, energy: number, tsMs: number): RatingOutcome {
    const p = this.ensure(userId);
    if (seq <= p.lastSeq) return 'duplicate';
    if (!withinAllowance(p, tsMs, this.allowance)) {
      p.lastSeq = seq;
      this.dirty.add(userId);
      return 'over_allowance';
    }
    const centi = toCenti(energy);
    const bucket = countRating(p, seq, centi, minuteOf(tsMs, this.startedAtMs, this.minuteMs))!;
    p.firstRatingAtMs ??= tsMs;
    this.dirtyMinutes.set(bucket, userId);
    if (centi !== 0) p.reachedOrder = ++this.order;
    this.board.upsert(userId, p.scoreCenti, p.reachedOrder);
    if (p.band >= 0) this.bandBoards[p.band]!.upsert(userId, p.scoreCenti, p.reachedOrder, p);
    this.changed = true;
    this.dirty.add(userId);
    return 'counted';
  }

  /** Minute of a reading stamped at `tsMs` (for the raw row). */
  minuteOf(tsMs: number): number {
    return minuteOf(tsMs, this.startedAtMs, this.minuteMs);
  }

  /**
   * The standings as rank snapshot chunks, built in one in-order walk straight into column arrays.
   */
  snapshot(tick: number, atMs: number, chunkSize: number): RankSnapshot[] {
    const n = this.board.size;
    const chunks = Math.max(1, Math.ceil(n / chunkSize));
    const top: TopEntry[] = [];
    const out: RankSnapshot[] = [];
    const bands = this.hasBands ? this.bandSummaries() : null;
    const bandRankOf = new Map<string, number>();
    if (bands !== null) {
      for (const board of this.bandBoards)
        board?.forEachInOrder((userId, _s, rank) => bandRankOf.set(userId, rank));
    }
    for (let c = 0; c < chunks; c++) {
      const len = Math.min(chunkSize, n - c * chunkSize);
      const bandColumns =
        bands === null
          ? {}
          : {
              bandOf: new Array<number>(Math.max(0, len)),
              bandRanks: new Array<number>(Math.max(0, len)),
              bands,
            };
      out.push({
        ...bandColumns,
        sessionId: this.sessionId,
        tick,
        at: atMs,
        participants: n,
        top,
        chunk: c,
        chunks,
        userIds: new Array<string>(Math.max(0, len)),
        ranks: new Array<number>(Math.max(0, len)),
        scores: new Array<number>(Math.max(0, len)),
        seqs: new Array<number>(Math.max(0, len)),
      });
    }
    this.board.forEachInOrder((userId, scoreCenti, rank, p) => {
      const i = rank - 1;
      const chunk = out[(i / chunkSize) | 0];
      const j = i % chunkSize;
      const score = scoreCenti / 100;
      chunk.userIds[j] = userId;
      chunk.ranks[j] = rank;
      chunk.scores[j] = score;
      chunk.seqs[j] = p!.lastSeq;
      if (chunk.bandOf !== undefined) {
        chunk.bandOf[j] = p!.band;
        chunk.bandRanks![j] = bandRankOf.get(userId) ?? 0;
      }
      if (rank <= TOP_SIZE) top.push({ rank, userId, name: p!.name, score });
    });
    this.changed = false;
    this.dirty.clear();
    return out;
  }

  /** How many users changed their own entry since the last snapshot. */
  get dirtyCount(): number {
    return this.dirty.size;
  }

  /**
   * A delta snapshot: only the users whose own entry changed since the last snapshot, each with its
   * current rank (O(log n) each) — everyone else's rank may have moved too; the next full snapshot says.
   * Empty (no chunks) when nothing changed.
   */
  delta(tick: number, atMs: number, chunkSize: number): RankSnapshot[] {
    const m = this.dirty.size;
    if (m === 0) return [];
    const n = this.board.size;
    const top: TopEntry[] = this.board.top(TOP_SIZE).map(({ userId, scoreCenti, rank, value }) => ({
      rank,
      userId,
      name: value!.name,
      score: scoreCenti / 100,
    }));
    const chunks = Math.ceil(m / chunkSize);
    const out: RankSnapshot[] = [];
    const bands = this.hasBands ? this.bandSummaries() : null;
    let c = 0;
    let current: RankSnapshot | null = null;
    for (const userId of this.dirty) {
      if (current === null || current.userIds.length === chunkSize) {
        current = {
          ...(bands === null ? {} : { bandOf: [], bandRanks: [], bands }),
          sessionId: this.sessionId,
          tick,
          at: atMs,
          participants: n,
          top,
          chunk: c++,
          chunks,
          userIds: [],
          ranks: [],
          scores: [],
          seqs: [],
          delta: true,
        };
        out.push(current);
      }
      const p = this.participants.get(userId)!;
      current.userIds.push(userId);
      current.ranks.push(this.board.rankOf(userId));
      current.scores.push(p.scoreCenti / 100);
      current.seqs.push(p.lastSeq);
      if (current.bandOf !== undefined) {
        current.bandOf.push(p.band);
        current.bandRanks!.push(p.band >= 0 ? this.bandBoards[p.band]!.rankOf(userId) : 0);
      }
    }
    this.dirty.clear();
    return out;
  }

  /** One standing row per participant, in rank order. */
  standingRows(version: number, final: 0 | 1): StandingRow[] {
    const rows: StandingRow[] = [];
    const participants = this.board.size;
    this.board.forEachInOrder((userId, scoreCenti, rank, p) => {
      rows.push({
        session_id: this.sessionId,
        user_id: userId,
        name: p!.name,
        rank,
        participants,
        score: scoreCenti / 100,
        calories: calories(p!),
        avg_energy: round2(avgEnergy(p!)),
        samples: p!.samples,
        final,
        version,
        band: p!.band >= 0 ? (AGE_BANDS[p!.band]?.id ?? '') : '',
      });
    });
    return rows;
  }

  /** Minute buckets changed since the previous call. */
  takeChangedMinutes(version: number): MinuteRow[] {
    const rows: MinuteRow[] = [];
    for (const [b, userId] of this.dirtyMinutes) {
      rows.push({
        session_id: this.sessionId,
        user_id: userId,
        minute: b.minute,
        avg_energy: round2(bucketAvgEnergy(b)),
        max_energy: b.maxCenti / 100,
        samples: b.samples,
        version,
        sum_centi: b.sumCenti,
      });
    }
    this.dirtyMinutes = new Map();
    return rows;
  }

  /** The whole scoring state as columns, for a checkpoint (O(participants + buckets)). */
  capture(): StandingsState {
    return participantColumns(this.participants.values(), this.order);
  }

  /**
   * Standings as a checkpoint left them: the same scores, seqs, allowance state, minute buckets and tie order,
   * so everything counted afterwards decides and ranks exactly as it would have without the move. Every
   * minute bucket is marked changed (as a replay would leave them), so the next results write carries them.
   */
  static restore(
    sessionId: string,
    startMs: number,
    minuteMs: number,
    state: StandingsState,
    allowance?: AllowanceRule,
  ): SessionStandings {
    const standings = new SessionStandings(sessionId, startMs, minuteMs, allowance);
    for (const p of participantsOf(state)) {
      standings.participants.set(p.userId, p);
      standings.board.upsert(p.userId, p.scoreCenti, p.reachedOrder, p);
      if (p.band >= 0) standings.bandBoardOf(p.band).upsert(p.userId, p.scoreCenti, p.reachedOrder, p);
      for (const b of p.minutes.values()) standings.dirtyMinutes.set(b, p.userId);
      standings.dirty.add(p.userId);
    }
    standings.order = state.order;
    standings.changed = true;
    return standings;
  }

  private ensure(userId: string): Participant {
    let p = this.participants.get(userId);
    if (p === undefined) {
      p = newParticipant(userId, ++this.order);
      this.participants.set(userId, p);
      this.board.upsert(userId, 0, p.reachedOrder, p);
    }
    return p;
  }
}
