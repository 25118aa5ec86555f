import { expect } from 'chai';
import type { FloorRun } from '../src/modes/floor.js';
import { checksOf, smokeRun } from './smoke.js';

/** A floor run of `devices` for `seconds`; its checks must all pass. */
async function floorRun(devices: number, seconds: number, flags: string[]): Promise<FloorRun> {
  const report = await smokeRun([
    'floor',
    '--participants',
    String(devices),
    '--duration',
    `${seconds}s`,
    ...flags,
  ]);
  expect(checksOf(report)).to.deep.equal([]);
  const run = report.data as FloorRun;
  expect(run.connected).to.equal(devices);
  // A rank frame answers every rating; each device rates once a second, so at least every second but the last.
  expect(run.sent).to.be.at.least(devices * (seconds - 1));
  expect(run.latency.count).to.be.at.least(devices * (seconds - 1));
  return run;
}

describe('npm run bench -- floor', function () {
  this.timeout(120_000);

  it("drives devices against 2 bare ws servers with the gateway's frame policy and reports what the frames cost them (issue 12)", async () => {
    const run = await floorRun(40, 3, ['--ramp', '500ms', '--gateways', '2']);
    expect(Object.keys(run.serverCost.cpuSecByProcess)).to.deep.equal(['floor-1', 'floor-2']);
    expect(run.serverCost.usPerParticipantSecond).to.be.greaterThan(0);
    expect(run.maxGapMs.max).to.be.greaterThan(0);
  });

  it('with --start welcomes the devices waiting and starts the class as a gateway does (started, then frames)', async () => {
    // Devices rate only once live: their ratings are answered, so `started` reached every one of them.
    const run = await floorRun(20, 2, ['--ramp', '300ms', '--start']);
    expect(run.opts.start).to.equal(true);
  });
});
