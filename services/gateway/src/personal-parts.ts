import { bestAtMinute, type MainBoard, type PersonalBestClaim } from '@pulse/contracts';
import { BoardUnavailable } from './errors.js';

/** What fan-out needs from a client for its own part of a rank frame (issue 16). */
export interface PersonalClient {
  /** `,"best":{…}` and `,"main":"…"` of this client's rank frame at engine time `atMs`, or ''. */
  personalPart(followingPart: string, startedAt: string | null, atMs: number): string;
}

/**
 * A client's own fields of a rank frame beyond the shared ones (issue 16): its personal best's pace
 * (`rank.best`, from the join ticket: the engine is not involved, so an engine crash or replay cannot change
 * it) and the main board it chose (`rank.main`). Pure: times are passed in. The best part is encoded once per
 * elapsed minute, so the cost per frame is a comparison and a concatenation.
 */
export class PersonalParts {
  private main: MainBoard | undefined;
  private startedAt: string | null = null;
  private startedAtMs = 0;
  private minute = -1;
  private bestPart = '';

  constructor(
    private readonly best: PersonalBestClaim | undefined,
    /** Whether the ticket puts the trainee on an age-band board (a `band` main board needs one). */
    private readonly hasBand: boolean,
    /** The engine's minute (MINUTE_MS): the best's curve is in these minutes. */
    private readonly minuteMs: number,
  ) {}

  /** The main board this client chose; throws BoardUnavailable (choice unchanged) for a band it is not on. */
  choose(main: MainBoard): void {
    if (main === 'band' && !this.hasBand) throw new BoardUnavailable(main);
    this.main = main;
  }

  get mainBoard(): MainBoard | undefined {
    return this.main;
  }

  /**
   * The client's own part. `main` is the chosen board when its part is in the frame (`following` only while
   * the trainee follows someone in the class; `band` always has its part for a trainee with a band), else
   * `all`.
   */
  part(followingPart: string, startedAt: string | null, atMs: number): string {
    const best = this.bestOf(startedAt, atMs);
    if (this.main === undefined) return best;
    const shown = this.main === 'following' && followingPart === '' ? 'all' : this.main;
    return `${best},"main":"${shown}"`;
  }

  private bestOf(startedAt: string | null, atMs: number): string {
    if (this.best === undefined || startedAt === null) return '';
    if (startedAt !== this.startedAt) {
      this.startedAt = startedAt;
      this.startedAtMs = Date.parse(startedAt);
      this.minute = -1;
    }
    const minute = Math.max(0, Math.floor((atMs - this.startedAtMs) / this.minuteMs));
    if (minute !== this.minute) {
      this.minute = minute;
      const at = bestAtMinute(this.best, minute);
      const pace = at === undefined ? '' : `,"atMinute":${at}`;
      this.bestPart = `,"best":{"sessionId":"${this.best.sid}","score":${this.best.score},"minute":${minute}${pace}}`;
    }
    return this.bestPart;
  }
}

/** The own part of a user's rank frame, from their first local client (one socket per trainee). */
export function ownParts(
  clients: Iterable<PersonalClient>,
  followingPart: string,
  startedAt: string | null,
  atMs: number,
): string {
  for (const client of clients) return followingPart + client.personalPart(followingPart, startedAt, atMs);
  return followingPart;
}
