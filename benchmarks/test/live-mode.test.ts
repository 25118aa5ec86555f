import { expect } from 'chai';
import { describeE2e } from './e2e/fixture.js';
import { checksOf, smokeRun } from './smoke.js';

describeE2e('npm run bench -- live', function () {
  this.timeout(300_000);

  it('plays 20 trainees for 5 s on 2 gateways and finds nothing lost or doubled', async () => {
    const report = await smokeRun([
      'live',
      '--participants',
      '20',
      '--duration',
      '5s',
      '--ramp',
      '1s',
      '--gateways',
      '2',
      '--resend-every',
      '3',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    const run = report.tables[0].rows;
    expect(run.find((r) => r[0] === 'lost / doubled')?.[1]).to.equal('0 / 0');
    expect(run.find((r) => r[0] === 'ratings sent (distinct seqs)')?.[1]).to.be.greaterThan(0);
  });
});
