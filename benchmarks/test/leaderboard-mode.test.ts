import { expect } from 'chai';
import { checksOf, smokeRun } from './smoke.js';

describe('npm run bench -- leaderboard', function () {
  this.timeout(120_000);

  it('compares the engine Leaderboard with a Redis sorted set and writes the report', async () => {
    const report = await smokeRun(['leaderboard', '--sizes', '500,2000', '--ratings', '5000']);
    expect(checksOf(report)).to.deep.equal([]);
    const rows = report.tables[0].rows;
    expect(rows.map((r) => r[0])).to.deep.equal([500, 2000]);
    for (const row of rows) for (const v of row.slice(1)) expect(v).to.be.a('number').greaterThan(0);
  });
});
