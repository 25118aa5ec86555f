import { expect } from 'chai';
import { parsePrometheusText } from '../src/metrics/service-metrics.js';

describe('parsePrometheusText', () => {
  it("keeps the services' own series and drops comments and generic process series", () => {
    const text = [
      '# HELP pulse_ratings_total ratings',
      '# TYPE pulse_ratings_total counter',
      'pulse_ratings_total{session="a"} 42',
      'process_cpu_seconds_total 1.5',
      'nodejs_eventloop_lag_seconds 0.01',
      'pulse_lag 3.25',
      '',
    ].join('\n');
    expect(parsePrometheusText(text)).to.deep.equal({
      'pulse_ratings_total{session="a"}': 42,
      pulse_lag: 3.25,
    });
  });
});
