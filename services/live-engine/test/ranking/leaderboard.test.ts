import { expect } from 'chai';
import { rng } from '../random.js';
import { Leaderboard } from '../../src/ranking/leaderboard.js';

interface Naive {
  userId: string;
  score: number;
  order: number;
}

function naiveRanking(users: Map<string, Naive>): Naive[] {
  return [...users.values()].sort(
    (a, b) =>
      b.score - a.score || a.order - b.order || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0),
  );
}

describe('Leaderboard', () => {
  it('ranks by score descending, starting at 1', () => {
    const board = new Leaderboard();
    board.upsert('a', 100, 1);
    board.upsert('b', 300, 2);
    board.upsert('c', 200, 3);
    expect([board.rankOf('b'), board.rankOf('c'), board.rankOf('a')]).to.deep.equal([1, 2, 3]);
    expect(board.top(2).map((e) => e.userId)).to.deep.equal(['b', 'c']);
    expect(board.size).to.equal(3);
  });

  it('ranks ties by who reached the score first, then by userId', () => {
    const board = new Leaderboard();
    board.upsert('late', 500, 9);
    board.upsert('early', 500, 4);
    board.upsert('z', 100, 1);
    board.upsert('y', 100, 1);
    expect(board.top(4).map((e) => e.userId)).to.deep.equal(['early', 'late', 'y', 'z']);
  });

  it('moves a user when their score changes and forgets removed users', () => {
    const board = new Leaderboard();
    board.upsert('a', 100, 1);
    board.upsert('b', 200, 2);
    board.upsert('a', 300, 3);
    expect(board.rankOf('a')).to.equal(1);
    expect(board.remove('a')).to.equal(true);
    expect(board.rankOf('a')).to.equal(0);
    expect(board.rankOf('b')).to.equal(1);
    expect(board.size).to.equal(1);
  });

  it('carries a value to the in-order walk', () => {
    const board = new Leaderboard<{ name: string }>();
    board.upsert('a', 1, 1, { name: 'Ann' });
    board.upsert('a', 2, 2);
    const seen: string[] = [];
    board.forEachInOrder((userId, score, rank, v) => seen.push(`${rank}:${userId}:${score}:${v?.name}`));
    expect(seen).to.deep.equal(['1:a:2:Ann']);
  });

  for (const seed of [1, 42, 20261125]) {
    it(`agrees with a naive sort over random operations on 3000 users (seed ${seed})`, () => {
      const random = rng(seed);
      const board = new Leaderboard();
      const naive = new Map<string, Naive>();
      let order = 0;
      for (let op = 0; op < 30_000; op++) {
        const userId = `u${Math.floor(random() * 3000)}`;
        const roll = random();
        if (roll < 0.05 && naive.has(userId)) {
          board.remove(userId);
          naive.delete(userId);
        } else {
          const prev = naive.get(userId)?.score ?? 0;
          // Small increments make many ties; zero increments keep the old reached order.
          const inc = Math.floor(random() * 4) * 50;
          const entry = {
            userId,
            score: prev + inc,
            order: inc === 0 && naive.has(userId) ? naive.get(userId)!.order : ++order,
          };
          naive.set(userId, entry);
          board.upsert(userId, entry.score, entry.order);
        }
        if (op % 5000 === 4999) {
          const expected = naiveRanking(naive);
          const walked: string[] = [];
          board.forEachInOrder((u, score, rank) => walked.push(`${rank}:${u}:${score}`));
          expect(walked).to.deep.equal(expected.map((e, i) => `${i + 1}:${e.userId}:${e.score}`));
          for (let k = 0; k < 200; k++) {
            const i = Math.floor(random() * expected.length);
            expect(board.rankOf(expected[i].userId)).to.equal(i + 1);
          }
          expect(board.top(10).map((e) => e.userId)).to.deep.equal(
            expected.slice(0, 10).map((e) => e.userId),
          );
        }
      }
      expect(board.size).to.equal(naive.size);
    });
  }
});
