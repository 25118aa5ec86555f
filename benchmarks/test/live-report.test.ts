import { expect } from 'chai';
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
});
