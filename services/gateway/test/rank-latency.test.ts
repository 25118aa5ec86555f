import { expect } from 'chai';
import { MAX_TRACKED_RATINGS, RankLatency } from '../src/rank-latency.js';

describe('RankLatency (rating → own rank, issue 14)', () => {
  const run = (steps: (l: RankLatency, seen: number[]) => void) => {
    const seen: number[] = [];
    steps(new RankLatency(), seen);
    return seen;
  };

  it('measures each rating once, from its receipt to the first frame whose seq covers it', () => {
    const seen = run((l, seen) => {
      l.received(1, 1_000);
      l.received(2, 1_200);
      l.received(3, 1_400);
      l.ranked(2, 1_300, (s) => seen.push(s)); // covers 1 and 2
      l.ranked(2, 1_500, (s) => seen.push(s)); // a refresh of the same frame: nothing new
      l.ranked(3, 1_450, (s) => seen.push(s));
    });
    expect(seen).to.deep.equal([0.3, 0.1, 0.05]);
  });

  it('ignores resends of seqs it already tracks or measured', () => {
    const seen = run((l, seen) => {
      l.received(5, 0);
      l.received(5, 500);
      l.received(4, 600);
      l.ranked(5, 1_000, (s) => seen.push(s));
      l.received(5, 2_000);
      l.ranked(5, 3_000, (s) => seen.push(s));
    });
    expect(seen).to.deep.equal([1]);
  });

  it('forgets the oldest ratings beyond its bound instead of growing', () => {
    const seen = run((l, seen) => {
      for (let seq = 1; seq <= MAX_TRACKED_RATINGS + 10; seq++) l.received(seq, seq);
      l.ranked(MAX_TRACKED_RATINGS + 10, 10_000, (s) => seen.push(s));
    });
    expect(seen).to.have.length(MAX_TRACKED_RATINGS);
  });
});
