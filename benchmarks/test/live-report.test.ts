import { expect } from 'chai';
import { LatencyRecorder } from '../src/metrics/latency.js';
import { gatewayLatencyRow, loopDelayRow } from '../src/modes/live-report.js';

describe('the live report: where a latency tail lies', () => {
  it("gives the load workers' event-loop delay as its median second and its worst", () => {
    expect(
      loopDelayRow([{ loopDelayMaxMs: 12 }, { loopDelayMaxMs: 480.5 }, { loopDelayMaxMs: 20 }]),
    ).to.equal('20 / 480.5');
    expect(loopDelayRow([])).to.equal('n/a');
  });

  it("sums the gateways' own histogram, and only theirs", () => {
    const bucket = (le: string, service: string) =>
      `pulse_gateway_rating_to_rank_seconds_bucket{le="${le}",service="${service}"}`;
    const gateway = (le025: number, le1: number, all: number) => ({
      [bucket('0.25', 'gateway')]: le025,
      [bucket('1', 'gateway')]: le1,
      [bucket('+Inf', 'gateway')]: all,
      'pulse_gateway_rating_to_rank_seconds_count{service="gateway"}': all,
    });
    expect(
      gatewayLatencyRow({
        'gateway-1': gateway(900, 990, 1000),
        'gateway-2': gateway(1000, 1000, 1000),
        'engine-1': { [bucket('+Inf', 'live-engine')]: 5000 },
      }),
    ).to.equal('95 % / 99.5 % of 2000');
    expect(gatewayLatencyRow({ api: {} })).to.equal('n/a');
  });

  it('keeps the play after its first seconds apart from the whole run, whose tail may be its start', () => {
    const recorder = new LatencyRecorder();
    recorder.record([900, 800, 700]); // the start
    recorder.record([100, 120, 90, 110], true);
    const all = recorder.summary();
    const after = recorder.settledSummary();
    recorder.destroy();
    expect(all.count).to.equal(7);
    expect(all.max).to.be.closeTo(900, 1);
    expect(after.count).to.equal(4);
    expect(after.max).to.be.closeTo(120, 0.5);
    expect(after.p50).to.be.within(90, 110.1);
  });
});
