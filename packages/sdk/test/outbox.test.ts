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
