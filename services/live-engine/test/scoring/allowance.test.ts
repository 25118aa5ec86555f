import { expect } from 'chai';
import { SCORE_ALLOWANCE } from '@pulse/contracts';
import { SessionStandings } from '../../src/scoring/standings.js';

const sessionId = '00000000-0000-4000-8000-000000000011';
const rule = { ratePerSec: 1.25, burst: 10 };

describe('SessionStandings score allowance (issue 11)', () => {
  it('counts an honest device at one rating a second for an hour, every rating', () => {
    const s = new SessionStandings(sessionId, 0, 60_000, SCORE_ALLOWANCE);
    let counted = 0;
    for (let seq = 1; seq <= 3_600; seq++) if (s.rate('ana', seq, 50, seq * 1_000) === 'counted') counted++;
    expect(counted).to.equal(3_600);
    expect(s.participant('ana')!.scoreCenti).to.equal(3_600 * 5_000);
  });

  it('caps a burst at `burst` ratings, then at ratePerSec of session time since the first rating', () => {
    const s = new SessionStandings(sessionId, 0, 60_000, rule);
    const outcomes = Array.from({ length: 30 }, (_, i) => s.rate('eve', i + 1, 100, 5_000));
    expect(outcomes.filter((o) => o === 'counted')).to.have.length(10);
    expect(outcomes.slice(10).every((o) => o === 'over_allowance')).to.equal(true);
    // 8 s later: 10 more ratings were earned (1.25/s), not more, however many are sent.
    for (let seq = 31; seq <= 130; seq++) s.rate('eve', seq, 100, 13_000);
    expect(s.participant('eve')!.samples).to.equal(20);
    expect(s.participant('eve')!.scoreCenti).to.equal(20 * 10_000);
  });

  it('lets a device resend a backlog it earned while disconnected', () => {
    const s = new SessionStandings(sessionId, 0, 60_000, rule);
    for (let seq = 1; seq <= 5; seq++) s.rate('bo', seq, 40, seq * 1_000);
    // 60 s without a connection, then the 60 ratings taken meanwhile arrive at once (stamped on arrival).
    const resent = Array.from({ length: 60 }, (_, i) => s.rate('bo', 6 + i, 40, 66_000));
    expect(resent.every((o) => o === 'counted')).to.equal(true);
  });

  it('moves the seq past a rating over the allowance, so its resend is a duplicate', () => {
    const s = new SessionStandings(sessionId, 0, 60_000, { ratePerSec: 1, burst: 1 });
    expect(s.rate('cy', 1, 10, 0)).to.equal('counted');
    expect(s.rate('cy', 2, 10, 0)).to.equal('over_allowance');
    expect(s.rate('cy', 2, 10, 5_000)).to.equal('duplicate');
    expect(s.participant('cy')!.lastSeq).to.equal(2);
  });

  it('decides the same on a replay of the same ratings (deterministic in stream order)', () => {
    const ratings = Array.from({ length: 200 }, (_, i) => ({
      seq: i + 1,
      energy: (i * 37) % 101,
      ts: 1_000 + Math.floor(i / 7) * 1_000,
    }));
    const run = () => {
      const s = new SessionStandings(sessionId, 0, 60_000, rule);
      return ratings.map((r) => s.rate('dee', r.seq, r.energy, r.ts));
    };
    expect(run()).to.deep.equal(run());
    expect(run().filter((o) => o === 'over_allowance').length).to.be.greaterThan(0);
  });
});
