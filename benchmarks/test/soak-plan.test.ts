import { expect } from 'chai';
import { linearFit, parseGauges, planSoak } from '../src/modes/soak-plan.js';

describe('soak plan', () => {
  it('starts the sessions in turn, overlapping a little, and ends the last one at the given length', () => {
    const plan = planSoak(12 * 60_000, 10, 2000);
    expect(plan.participantsPerSession).to.equal(200);
    expect(plan.slots).to.have.length(10);
    for (let i = 1; i < plan.slots.length; i++) {
      expect(plan.slots[i].startAtMs).to.be.lessThan(plan.slots[i - 1].endAtMs);
      expect(plan.slots[i].startAtMs).to.be.greaterThan(plan.slots[i - 1].startAtMs);
    }
    expect(plan.slots.at(-1)!.endAtMs - plan.prepLeadMs).to.be.closeTo(12 * 60_000, 1);
    expect(plan.slots[0].prepAtMs).to.equal(0);
  });

  it('refuses fewer participants than sessions', () => {
    expect(() => planSoak(60_000, 3, 2)).to.throw(/participants/);
  });

  it('fits a line through RSS readings', () => {
    const fit = linearFit([
      [2, 100],
      [3, 102],
      [4, 104],
    ]);
    expect(fit.slope).to.be.closeTo(2, 1e-9);
    expect(fit.intercept).to.be.closeTo(96, 1e-9);
    expect(linearFit([[2, 100]]).slope).to.equal(0);
  });

  it('reads event-loop lag, heap and the release gauges from Prometheus text', () => {
    const text = [
      '# HELP nodejs_eventloop_lag_seconds Lag of event loop in seconds.',
      'nodejs_eventloop_lag_seconds{service="gateway"} 0.0025',
      'nodejs_eventloop_lag_p99_seconds{service="gateway"} 0.012',
      'nodejs_eventloop_lag_p99_seconds_total 7',
      'nodejs_heap_size_used_bytes{service="gateway"} 20971520',
      'pulse_gateway_local_sessions{service="gateway"} 2',
      'pulse_engine_live_actors 1',
      'pulse_engine_owned_partitions{service="live-engine",x="a"} 1',
      'pulse_engine_owned_partitions{service="live-engine",x="b"} 2',
    ].join('\n');
    expect(parseGauges(text)).to.deep.equal({
      lagMs: 2.5,
      lagP99Ms: 12,
      heapMb: 20,
      localSessions: 2,
      liveActors: 1,
      ownedPartitions: 3,
    });
  });
});
