import { expect } from 'chai';
import {
  calories,
  countRating,
  minuteCalories,
  minuteOf,
  newParticipant,
  toCenti,
} from '../../src/scoring/participant.js';

describe('participant scoring', () => {
  describe('minuteOf', () => {
    const start = 1_700_000_000_000;
    const cases: Array<[string, number, number, number]> = [
      ['the first millisecond is minute 0', start, 60_000, 0],
      ['59.999 s is still minute 0', start + 59_999, 60_000, 0],
      ['60 s is minute 1', start + 60_000, 60_000, 1],
      ['a compressed 100 ms minute', start + 250, 100, 2],
      ['a reading stamped before the start counts in minute 0', start - 5_000, 60_000, 0],
    ];
    for (const [name, ts, minuteMs, expected] of cases) {
      it(name, () => expect(minuteOf(ts, start, minuteMs)).to.equal(expected));
    }
  });

  describe('minuteCalories (MET = 1 + 11 * energy / 100; kcal/min = MET * 3.5 * kg / 200)', () => {
    const cases: Array<[number, number, number]> = [
      [0, 70, 1.225],
      [100, 70, 14.7],
      [50, 70, 7.9625],
      [50, 100, 11.375],
    ];
    for (const [energy, kg, expected] of cases) {
      it(`gives ${expected} kcal for a minute at energy ${energy} and ${kg} kg`, () =>
        expect(minuteCalories(energy, kg)).to.be.closeTo(expected, 1e-9));
    }
  });

  it('counts a seq once and ignores seqs at or below the highest counted', () => {
    const p = newParticipant('u', 1);
    expect(countRating(p, 1, toCenti(10.5), 0)).to.not.equal(null);
    expect(countRating(p, 2, toCenti(20.25), 0)).to.not.equal(null);
    expect(countRating(p, 2, toCenti(99), 0)).to.equal(null);
    expect(countRating(p, 1, toCenti(99), 0)).to.equal(null);
    expect(countRating(p, 3, toCenti(30), 1)).to.not.equal(null);
    expect(p.scoreCenti).to.equal(6075);
    expect(p.samples).to.equal(3);
    expect(p.lastSeq).to.equal(3);
  });

  it('keeps average, max and count per minute bucket', () => {
    const p = newParticipant('u', 1);
    countRating(p, 1, toCenti(40), 0);
    countRating(p, 2, toCenti(60), 0);
    countRating(p, 3, toCenti(90), 2);
    const m0 = p.minutes.get(0)!;
    expect([m0.sumCenti, m0.maxCenti, m0.samples]).to.deep.equal([10000, 6000, 2]);
    expect(p.minutes.has(1)).to.equal(false);
    expect(p.minutes.get(2)!.samples).to.equal(1);
  });

  it('sums calories over minutes with samples only, at the participant weight', () => {
    const p = newParticipant('u', 1);
    p.weightKg = 80;
    countRating(p, 1, toCenti(40), 0);
    countRating(p, 2, toCenti(60), 0);
    countRating(p, 3, toCenti(100), 3);
    const expected = minuteCalories(50, 80) + minuteCalories(100, 80);
    expect(calories(p)).to.equal(Math.round(expected * 100) / 100);
  });
});
