import type { SessionSnapshot } from '@pulse/contracts';
import type { Page } from '../pagination.js';

export interface LeaderboardEntry {
  rank: number;
  userId: string;
  name: string;
  score: number;
  calories: number;
}
export interface MinuteView {
  minute: number;
  avgEnergy: number;
  maxEnergy: number;
  samples: number;
}
/** The participant's place on their age band's board in the class (issue 16). */
export interface MyBand {
  id: string;
  rank: number;
  participants: number;
}
/** The participant's place among themselves and the people they followed who were in the class (issue 16). */
export interface MyFollowing {
  rank: number;
  participants: number;
}
export interface MyResult {
  rank: number;
  score: number;
  calories: number;
  avgEnergy: number;
  minutes: MinuteView[];
  /** Frozen results only (issue 16): null when not on an age-band board. */
  band?: MyBand | null;
  /** Frozen results only (issue 16): null when they followed nobody who was in the class. */
  following?: MyFollowing | null;
  /** Frozen results only (issue 16): the class beat every earlier one of its type (a first one does). */
  personalBest?: boolean;
}
export interface SessionResults {
  session: SessionSnapshot;
  final: boolean;
  leaderboard: Page<LeaderboardEntry>;
  me?: MyResult;
}
export interface ResultsPage {
  limit: number;
  afterRank: number;
}
