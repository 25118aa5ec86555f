import { expect } from 'chai';
import { AGE_BANDS, ageBandOf } from '../src/index.js';

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
