import { expect } from 'chai';
import {
  AGE_BANDS,
  BEST_CURVE_MAX_MINUTES,
  JoinTicketClaims,
  ageBandOf,
  bestAtMinute,
  parseServerFrame,
} from '../src/index.js';

describe('age bands (issue 16)', () => {
  it('puts every age in exactly one documented band, by the age reached in the given year', () => {
    const cases: Array<[number, string]> = [
      [13, 'under-25'],
      [24, 'under-25'],
      [25, '25-34'],
      [34, '25-34'],
      [35, '35-44'],
      [44, '35-44'],
      [45, '45-54'],
      [55, '55-64'],
      [64, '55-64'],
      [65, '65-plus'],
      [110, '65-plus'],
    ];
    for (const [age, band] of cases) expect(ageBandOf(2026 - age, 2026), `age ${age}`).to.equal(band);
  });

  it('has contiguous bands from 0 up', () => {
    AGE_BANDS.forEach((band, i) => {
      if (i === 0) expect(band.fromAge).to.equal(0);
      else expect(band.fromAge).to.equal(AGE_BANDS[i - 1].toAge + 1);
    });
  });
});

describe('personal bests (issue 16)', () => {
  const sid = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

  it('reads the curve at each minute, the final score after a complete curve, nothing after a cut one', () => {
    const best = { sid, score: 30, curve: [10, 10, 30], complete: true };
    expect([0, 1, 2, 3, 100].map((m) => bestAtMinute(best, m))).to.deep.equal([10, 10, 30, 30, 30]);
    const cut = { sid, score: 500, curve: [1, 2], complete: false };
    expect([0, 1, 2].map((m) => bestAtMinute(cut, m))).to.deep.equal([1, 2, undefined]);
    expect(bestAtMinute({ sid, score: 5 }, 0)).to.equal(undefined);
  });

  it('bounds the curve a ticket may carry', () => {
    const claims = {
      sub: sid,
      sid,
      role: 'trainee',
      name: 'Ann',
      weightKg: 70,
      startsAt: '2026-11-25T10:00:00.000Z',
    };
    const curve = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(
      JoinTicketClaims.safeParse({ ...claims, best: { sid, score: 1, curve: curve(BEST_CURVE_MAX_MINUTES) } })
        .success,
    ).to.equal(true);
    expect(
      JoinTicketClaims.safeParse({
        ...claims,
        best: { sid, score: 1, curve: curve(BEST_CURVE_MAX_MINUTES + 1) },
      }).success,
    ).to.equal(false);
  });

  it('accepts rank frames with `best` and `main`, and refuses an unknown main board', () => {
    const frame = {
      type: 'rank',
      rank: 1,
      participants: 1,
      score: 12,
      top: [],
      at: '2026-11-25T10:00:00.000Z',
      best: { sessionId: sid, score: 30, minute: 2, atMinute: 30 },
      main: 'following',
    };
    expect(parseServerFrame(JSON.stringify(frame)).ok).to.equal(true);
    expect(parseServerFrame(JSON.stringify({ ...frame, main: 'friends' })).ok).to.equal(false);
    expect(parseServerFrame(JSON.stringify({ ...frame, best: { ...frame.best, minute: -1 } })).ok).to.equal(
      false,
    );
  });
});
