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
export interface MyResult {
  rank: number;
  score: number;
  calories: number;
  avgEnergy: number;
  minutes: MinuteView[];
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
