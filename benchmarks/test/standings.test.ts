import { expect } from 'chai';
import { ExpectedStandings, scoresFromSent } from '../src/verify/standings.js';

describe('ExpectedStandings', () => {
  const standings = new ExpectedStandings(
    new Map([
      ['a', 50],
      ['b', 80],
      ['c', 50],
      ['d', 10],
    ]),
  );

  it('gives an exact rank to a unique score and a range to a tie', () => {
    expect(standings.rankRange('b')).to.deep.equal([1, 1]);
    expect(standings.rankRange('a')).to.deep.equal([2, 3]);
    expect(standings.rankRange('c')).to.deep.equal([2, 3]);
    expect(standings.rankRange('d')).to.deep.equal([4, 4]);
  });

  it('accepts standings that agree and names every disagreement', () => {
    const good = [
      { userId: 'b', rank: 1, score: 80 },
      { userId: 'c', rank: 2, score: 50 },
      { userId: 'a', rank: 3, score: 50 },
      { userId: 'd', rank: 4, score: 10 },
    ];
    expect(standings.problems(good, 'x')).to.deep.equal([]);
    const bad = [
      { userId: 'b', rank: 2, score: 80 },
      { userId: 'c', rank: 2, score: 51 },
      { userId: 'd', rank: 4, score: 10 },
    ];
    expect(standings.problems(bad, 'x')).to.deep.equal([
      'x: user b rank 2, expected 1',
      'x: user c score 51, expected 50',
      'x: rank 2 given twice',
      'x: user a missing',
    ]);
  });
});

describe('scoresFromSent', () => {
  it('counts a resent seq once', () => {
    const scores = scoresFromSent([
      { userId: 'u', seq: 1, energy: 10 },
      { userId: 'u', seq: 2, energy: 20 },
      { userId: 'u', seq: 2, energy: 20 },
      { userId: 'v', seq: 1, energy: 5 },
    ]);
    expect(Object.fromEntries(scores)).to.deep.equal({ u: 30, v: 5 });
  });
});
