import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { FOLLOWING_TOP_SIZE } from '@pulse/contracts';
import { followingBoard, type Standing } from '../src/following-board.js';

describe('following boards (issue 16, pure)', () => {
  /** A whole board as a full snapshot has it: ranks 1..n in score order, ties broken by rank. */
  function board(n: number, seed: number): Array<{ userId: string; standing: Standing }> {
    let s = seed;
    const next = () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const scores = Array.from({ length: n }, () => Math.floor(next() * 40) * 2.5).sort((a, b) => b - a);
    return scores.map((score, i) => ({ userId: randomUUID(), standing: { rank: i + 1, score } }));
  }

  it('orders the trainee and the followees in the class as the whole board does, with its top five', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const all = board(300, seed);
      const standings = new Map(all.map((e) => [e.userId, e.standing]));
      const self = all[(seed * 37) % all.length];
      const followed = all.filter((_, i) => i % (seed + 2) === 0 && all[i] !== self);
      const absent = [randomUUID(), randomUUID()]; // followed, not in the class
      const following = new Map(
        [...followed, ...absent.map((userId) => ({ userId }))].map((e) => [e.userId, `N-${e.userId}`]),
      );
      const got = followingBoard({ userId: self.userId, name: 'Me' }, following, standings)!;
      // Independent: the whole board's order restricted to self and the followees present.
      const expected = all.filter((e) => e === self || followed.includes(e));
      expect(got.participants).to.equal(expected.length);
      expect(got.rank).to.equal(expected.indexOf(self) + 1);
      expect(got.top).to.deep.equal(
        expected.slice(0, FOLLOWING_TOP_SIZE).map((e, i) => ({
          rank: i + 1,
          userId: e.userId,
          name: e === self ? 'Me' : `N-${e.userId}`,
          score: e.standing.score,
        })),
      );
    }
  });

  it('is null when none of the followees is in the class, or the trainee is not on the board yet', () => {
    const standings = new Map([['me', { rank: 1, score: 10 }]]);
    expect(followingBoard({ userId: 'me', name: 'Me' }, new Map([['x', 'X']]), standings)).to.equal(null);
    expect(followingBoard({ userId: 'ghost', name: 'G' }, new Map([['me', 'Me']]), standings)).to.equal(null);
  });
});
