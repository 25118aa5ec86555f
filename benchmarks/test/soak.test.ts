import { expect } from 'chai';
import { describeE2e } from './e2e/fixture.js';
import { checksOf, smokeRun } from './smoke.js';

describeE2e('npm run bench -- soak', function () {
  this.timeout(600_000);

  it('plays 3 sessions of 13 trainees in turn, releases each one and loses nothing', async () => {
    const report = await smokeRun([
      'soak',
      '--minutes',
      '1',
      '--participants',
      '40',
      '--sessions',
      '3',
      '--gateways',
      '2',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    const released = report.tables.find((t) => t.title.startsWith('Released after each session'))!;
    expect(released.rows.map((r) => r[0])).to.deep.equal([1, 2, 3]);
    expect(released.rows.every((r) => r[6] === 'exact')).to.equal(true);
    const data = report.data as { baseline: unknown; final: unknown; samples: unknown[] };
    expect(data.final).to.deep.equal(data.baseline);
    expect(data.samples.length).to.be.greaterThan(3);
    expect(report.charts.map((c) => c.title)).to.include('RSS (MB) over time, per process');
  });
});
