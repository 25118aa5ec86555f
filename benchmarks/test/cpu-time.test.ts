import { expect } from 'chai';
import { Worker } from 'node:worker_threads';
import {
  HarnessCostMeter,
  ServerCostMeter,
  clientCosts,
  cpuSeconds,
  threadCpuUs,
} from '../src/metrics/cpu-time.js';
import { clientChoice, workerClients } from '../src/client/load-client.js';

/** Spends `ms` of this process's CPU time (not wall time: a busy box must not change what is measured). */
function burnCpu(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) break;
  }
  expect(x).to.be.greaterThan(0);
}

describe('ServerCostMeter', () => {
  it('reads the CPU seconds of a live process and nothing for a missing one', () => {
    const before = cpuSeconds(process.pid)!;
    burnCpu(120);
    expect(cpuSeconds(process.pid)! - before).to.be.within(0.09, 0.5);
    expect(cpuSeconds(2 ** 22 + 12_345)).to.equal(undefined);
  });

  it('divides server CPU by participant-seconds and leaves the harness and the api out', () => {
    const meter = new ServerCostMeter(() => ({
      'gateway-1': process.pid,
      harness: process.pid,
      api: process.pid,
    }));
    meter.begin();
    burnCpu(200);
    const cost = meter.end(100, 2);
    expect(Object.keys(cost.cpuSecByProcess)).to.deep.equal(['gateway-1']);
    expect(cost.participantSeconds).to.equal(200);
    expect(cost.serverCpuSec).to.be.within(0.18, 0.6);
    // 0.2 s of CPU over 200 participant-seconds is about 1,000 µs each.
    expect(cost.usPerParticipantSecond).to.be.within(900, 3000);
  });
});

describe('HarnessCostMeter', () => {
  it('splits its own CPU into user and system time and counts the event loop going to sleep', async () => {
    const meter = new HarnessCostMeter();
    meter.begin();
    burnCpu(150);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const cost = meter.end(100, 1);
    expect(cost.cpuSec).to.be.within(0.14, 0.6);
    expect(cost.userSec).to.be.greaterThan(0.1); // the loop above is user time
    expect(cost.userSec + cost.systemSec).to.be.closeTo(cost.cpuSec, 0.02);
    expect(cost.voluntaryContextSwitches).to.be.at.least(5); // each timer wait slept
    // 0.15 s of CPU over 100 participant-seconds is about 1,500 µs each.
    expect(cost.usPerParticipantSecond).to.be.within(1_400, 6_000);
  });
});

describe("the load workers' CPU by client (--client both, issue 15)", () => {
  it("reads the calling thread's own CPU, not the process's", async () => {
    const before = threadCpuUs()!;
    expect(before).to.be.a('number');
    // Another thread burning CPU does not count for this one.
    const busy = new Worker(
      'const t = Date.now(); let x = 0; while (Date.now() - t < 300) x += Math.sqrt(x + 1);',
      { eval: true },
    );
    await new Promise((resolve) => busy.once('exit', resolve));
    const idle = threadCpuUs()! - before;
    burnCpu(150);
    const burnt = threadCpuUs()! - before - idle;
    expect(idle / 1000).to.be.lessThan(150);
    expect(burnt / 1000).to.be.within(130, 600);
  });

  it("sums each client's workers over the window and divides by its devices and the played seconds", () => {
    const before = [
      { kind: 'sdk', devices: 500, cpuUs: 1_000_000 },
      { kind: 'bare', devices: 500, cpuUs: 2_000_000 },
      { kind: 'sdk', devices: 500, cpuUs: 0 },
      { kind: 'bare', devices: 500, cpuUs: 0 },
    ];
    const after = [
      { kind: 'sdk', devices: 500, cpuUs: 2_100_000 },
      { kind: 'bare', devices: 500, cpuUs: 3_000_000 },
      { kind: 'sdk', devices: 500, cpuUs: 1_100_000 },
      { kind: 'bare', devices: 500, cpuUs: 1_000_000 },
    ];
    // sdk: 2.2 s over 1,000 devices × 20 s = 110 µs; bare: 2.0 s → 100 µs.
    expect(clientCosts(before, after, 20)).to.deep.equal([
      { kind: 'sdk', devices: 1000, cpuSec: 2.2, usPerParticipantSecond: 110 },
      { kind: 'bare', devices: 1000, cpuSec: 2, usPerParticipantSecond: 100 },
    ]);
    // A thread whose CPU is not known here: no figure rather than a wrong one.
    expect(clientCosts(before, [{ ...after[0], cpuUs: null }, ...after.slice(1)], 20)).to.deep.equal([]);
  });

  it('gives both sides of a pair the same number of workers, alternating, so each session is split in half', () => {
    const kinds = (count: number, text: string) =>
      workerClients(count, clientChoice(text)).map((w) => `${w.kind}:${w.label}`);
    expect(kinds(1, 'both')).to.deep.equal(['sdk:sdk', 'bare:bare']);
    expect(kinds(3, 'both')).to.deep.equal(['sdk:sdk', 'bare:bare', 'sdk:sdk', 'bare:bare']);
    expect(kinds(2, 'sdk,before')).to.deep.equal(['sdk:sdk', 'before:before']);
    // A control of the instrument: one client on both sides, reported as two.
    expect(kinds(2, 'sdk,sdk')).to.deep.equal(['sdk:sdk·a', 'sdk:sdk·b']);
    expect(kinds(2, 'sdk')).to.deep.equal(['sdk:sdk', 'sdk:sdk']);
    expect(kinds(1, 'bare')).to.deep.equal(['bare:bare']);
    expect(clientChoice(undefined)).to.equal('sdk');
    for (const bad of ['', 'sdk,', 'sdk,bare,before', 'old', 'both,sdk']) {
      expect(() => clientChoice(bad), bad).to.throw(/--client must be sdk, bare, before/);
    }
  });
});
