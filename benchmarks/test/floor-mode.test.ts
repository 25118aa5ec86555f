import { expect } from 'chai';
import type { FloorRun } from '../src/modes/floor.js';
import { checksOf, smokeRun } from './smoke.js';

describe('npm run bench -- floor', function () {
  this.timeout(120_000);

  it("drives devices against 2 bare ws servers with the gateway's frame policy and reports what the frames cost them (issue 12)", async () => {
    const report = await smokeRun([
      'floor',
      '--participants',
      '40',
      '--duration',
      '3s',
      '--ramp',
      '500ms',
      '--gateways',
      '2',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    const run = report.data as FloorRun;
    expect(run.connected).to.equal(40);
    expect(Object.keys(run.serverCost.cpuSecByProcess)).to.deep.equal(['floor-1', 'floor-2']);
    expect(run.serverCost.usPerParticipantSecond).to.be.greaterThan(0);
    // A rank frame answers every rating; each device rates once a second for 3 s.
    expect(run.latency.count).to.be.at.least(40 * 2);
    expect(run.sent).to.be.at.least(40 * 2);
    expect(run.maxGapMs.max).to.be.greaterThan(0);
  });

  it('with --start welcomes the devices waiting and starts the class as a gateway does (started, then frames)', async () => {
    const report = await smokeRun([
      'floor',
      '--participants',
      '20',
      '--duration',
      '2s',
      '--ramp',
      '300ms',
      '--start',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    const run = report.data as FloorRun;
    expect(run.connected).to.equal(20);
    expect(run.opts.start).to.equal(true);
    // Devices rate only once live: their ratings are answered, so `started` reached every one of them.
    expect(run.sent).to.be.at.least(20);
    expect(run.latency.count).to.be.at.least(20);
  });
});
