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
    const row = (start: string) => String(run.find((r) => String(r[0]).startsWith(start))?.[1]);
    expect(row("load workers' event-loop delay")).to.match(/^\d+(\.\d+)? \/ \d+(\.\d+)?$/);
    expect(row("gateways' own rating → rank frame written")).to.match(/^[\d.]+ % \/ [\d.]+ % of [1-9]\d*$/);
  });

  it('drives its devices through the SDK and ends the sessions under load: each device expects exactly its seqs up to ended.lastSeq (issue 15)', async () => {
    const report = await smokeRun([
      'live',
      '--participants',
      '10',
      '--rate',
      '4',
      '--duration',
      '3s',
      '--ramp',
      '1s',
      '--resend-every',
      '4',
      '--end-after',
      '200ms',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    expect(report.checks.map((c) => c.name)).to.include(
      'every device told where its ratings stop (ended.lastSeq)',
    );
    const run = new Map(report.tables[0].rows.map((r) => [r[0], r[1]]));
    expect(run.get('lost / doubled')).to.equal('0 / 0');
    expect(run.get('resends (must count once)')).to.be.greaterThan(0);
    expect(run.get('reconnects after the welcome (the SDK resumed and resent)')).to.equal(0);
  });

  it("runs half the devices on the SDK and half on the harness before it (hand-written client, a timer per device), side by side, and reports each one's CPU (issue 15)", async () => {
    const report = await smokeRun([
      'live',
      '--participants',
      '20',
      '--duration',
      '3s',
      '--ramp',
      '1s',
      '--client',
      'sdk,before',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    const run = new Map(report.tables[0].rows.map((r) => [r[0], r[1]]));
    expect(run.get('lost / doubled')).to.equal('0 / 0');
    expect(run.get('load worker threads (client)')).to.equal('2 (sdk + before)');
    expect(
      String(run.get("load workers' thread CPU per participant-second by client (µs; devices, CPU s)")),
    ).to.match(/^sdk [\d.]+ \(10, [\d.]+ s\); before [\d.]+ \(10, [\d.]+ s\)$/);
    expect(Number(run.get('sdk / before client, per participant-second'))).to.be.greaterThan(0);
  });
});
