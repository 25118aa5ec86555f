import { expect } from 'chai';
import { describeE2e } from './e2e/fixture.js';
import { checksOf, smokeRun } from './smoke.js';

describeE2e('npm run bench -- stampede', function () {
  this.timeout(300_000);

  it('seeded: every participant of every session gets its exact `me` from the frozen results', async () => {
    const report = await smokeRun([
      'stampede',
      '--participants',
      '30',
      '--sessions',
      '3',
      '--connections',
      '8',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    const rows = new Map(report.tables[0].rows.map((r) => [r[0], r[1]]));
    expect(rows.get('participants answered (200)')).to.equal('90 / 90');
    expect(rows.get('`me` exact (score; rank within its tie group)')).to.equal('90 / 90');
    expect(rows.get('keep-alive connections, opened as the stampede began')).to.equal(8);
  });

  it('live: after a short live run every participant asks at once and is answered exactly', async () => {
    const report = await smokeRun([
      'stampede',
      '--source',
      'live',
      '--participants',
      '20',
      '--sessions',
      '2',
      '--duration',
      '3s',
      '--ramp',
      '1s',
      '--connections',
      '8',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    const stampede = report.tables.at(-1)!;
    expect(stampede.title).to.equal('results stampede: 40 participants at once');
    expect(
      new Map(stampede.rows.map((r) => [r[0], r[1]])).get('`me` exact (score; rank within its tie group)'),
    ).to.equal('40 / 40');
  });
});
