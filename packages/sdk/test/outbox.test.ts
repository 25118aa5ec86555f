import { expect } from 'chai';
import { RatingOutbox, backoffDelayMs } from '../src/index.js';

describe('RatingOutbox', () => {
  it('numbers ratings from 1 and drops those a rank confirms', () => {
    const outbox = new RatingOutbox();
    expect([10, 20, 30, 40].map((e) => outbox.add(e).seq)).to.deep.equal([1, 2, 3, 4]);
    outbox.confirm(2);
    expect(outbox.unconfirmed).to.deep.equal([
      { seq: 3, energy: 30 },
      { seq: 4, energy: 40 },
    ]);
    expect(outbox.confirmed).to.equal(2);
    outbox.confirm(1);
    expect(outbox.confirmed).to.equal(2);
  });

  it('resends from a seq and continues above a welcome’s lastSeq on a fresh device', () => {
    const outbox = new RatingOutbox();
    for (const e of [1, 2, 3]) outbox.add(e);
    expect(outbox.from(2).map((r) => r.seq)).to.deep.equal([2, 3]);
    const fresh = new RatingOutbox();
    fresh.confirm(57);
    expect(fresh.add(5).seq).to.equal(58);
  });
});

describe('RatingOutbox over a long session', () => {
  it('keeps exactly the unconfirmed ratings through thousands of ratings, confirms and resends', () => {
    const outbox = new RatingOutbox();
    const kept: Array<{ seq: number; energy: number }> = [];
    for (let i = 1; i <= 5_000; i++) {
      const energy = (i * 37) % 101;
      kept.push(outbox.add(energy));
      if (i % 7 === 0) {
        const upTo = i - (i % 3); // confirms lag behind, sometimes by none
        outbox.confirm(upTo);
        while (kept.length > 0 && kept[0].seq <= upTo) kept.shift();
      }
      expect(outbox.size).to.equal(kept.length);
    }
    expect(outbox.unconfirmed).to.deep.equal(kept);
    expect(outbox.from(kept[1].seq)).to.deep.equal(kept.slice(1));
    outbox.confirm(5_000);
    expect([outbox.size, outbox.unconfirmed, outbox.add(1).seq]).to.deep.equal([0, [], 5_001]);
  });
});

describe('backoffDelayMs', () => {
  const options = { baseMs: 100, maxMs: 1_000 };
  const table: Array<[number, number, number]> = [
    [0, 1, 100],
    [1, 1, 200],
    [3, 1, 800],
    [4, 1, 1_000],
    [40, 1, 1_000],
    [3, 0.5, 400],
    [3, 0, 0],
  ];
  for (const [attempt, random, expected] of table) {
    it(`waits ${expected} ms on attempt ${attempt} with jitter ${random}`, () => {
      expect(backoffDelayMs(attempt, options, () => random)).to.equal(expected);
    });
  }
});
