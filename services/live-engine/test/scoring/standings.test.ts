import { expect } from 'chai';
import { SessionStandings } from '../../src/scoring/standings.js';

describe('SessionStandings delta snapshots', () => {
  const sessionId = '00000000-0000-4000-8000-000000000001';

  function standings(): SessionStandings {
    const s = new SessionStandings(sessionId, 0, 60_000);
    s.join('ana', 'Ana', 60);
    s.join('bo', 'Bo', 70);
    s.join('cy', 'Cy', 80);
    s.rate('ana', 1, 10, 1_000);
    s.rate('bo', 1, 20, 1_000);
    s.rate('cy', 1, 30, 1_000);
    return s;
  }

  it('carries only the users whose own entry changed since the last snapshot, with their current rank', () => {
    const s = standings();
    s.snapshot(0, 1_000, 100);
    s.rate('ana', 2, 25, 2_000); // ana: 35 → first
    const [delta, ...more] = s.delta(1, 2_000, 100);
    expect(more).to.deep.equal([]);
    expect(delta).to.include({
      sessionId,
      tick: 1,
      at: 2_000,
      participants: 3,
      chunk: 0,
      chunks: 1,
      delta: true,
    });
    expect([delta.userIds, delta.ranks, delta.scores, delta.seqs]).to.deep.equal([['ana'], [1], [35], [2]]);
    expect(delta.top.map((t) => [t.userId, t.rank, t.score])).to.deep.equal([
      ['ana', 1, 35],
      ['cy', 2, 30],
      ['bo', 3, 20],
    ]);
  });

  it('is empty when nothing changed since the previous delta or full snapshot', () => {
    const s = standings();
    expect(s.delta(0, 1_000, 100)).to.have.length(1);
    expect(s.delta(1, 1_100, 100)).to.deep.equal([]);
    s.rate('bo', 2, 1, 1_200);
    s.snapshot(2, 1_200, 100);
    expect(s.delta(3, 1_300, 100)).to.deep.equal([]);
    expect(s.rate('bo', 2, 1, 1_300)).to.equal('duplicate'); // a seq counted already changes nothing
    expect(s.delta(4, 1_400, 100)).to.deep.equal([]);
  });

  it('splits a large delta into chunks of at most the chunk size', () => {
    const s = new SessionStandings(sessionId, 0, 60_000);
    for (let i = 0; i < 25; i++) s.rate(`u${i}`, 1, i, 1_000);
    const chunks = s.delta(0, 1_000, 10);
    expect(chunks.map((c) => [c.chunk, c.chunks, c.userIds.length])).to.deep.equal([
      [0, 3, 10],
      [1, 3, 10],
      [2, 3, 5],
    ]);
  });
});
