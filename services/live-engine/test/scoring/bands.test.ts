import { expect } from 'chai';
import { AGE_BANDS, BAND_TOP_SIZE, type AgeBand, type RankSnapshot } from '@pulse/contracts';
import { SessionStandings } from '../../src/scoring/standings.js';
import { rng } from '../random.js';

/** Every entry of a full snapshot, in rank order, with its band columns. */
function entries(chunks: RankSnapshot[]) {
  return chunks.flatMap((c) =>
    c.userIds.map((userId, i) => ({
      userId,
      rank: c.ranks[i],
      score: c.scores[i],
      band: c.bandOf?.[i] ?? -1,
      bandRank: c.bandRanks?.[i] ?? 0,
    })),
  );
}

describe('age-band boards in the standings (issue 16)', () => {
  const sessionId = '00000000-0000-4000-8000-000000000016';

  it('ranks each opted-in participant within their band exactly as the whole board orders them', () => {
    for (const seed of [1, 7, 42]) {
      const rnd = rng(seed);
      const s = new SessionStandings(sessionId, 0, 60_000);
      const bandOf = new Map<string, AgeBand | undefined>();
      for (let u = 0; u < 300; u++) {
        const band = rnd() < 0.3 ? undefined : AGE_BANDS[Math.floor(rnd() * AGE_BANDS.length)].id;
        bandOf.set(`u${u}`, band);
        s.join(`u${u}`, `User ${u}`, 70, band);
      }
      for (let seq = 1; seq <= 5; seq++) {
        for (let u = 0; u < 300; u++)
          if (rnd() < 0.8) s.rate(`u${u}`, seq, Math.floor(rnd() * 100), seq * 1_000);
      }
      // Someone changes band mid-class (a new ticket after a profile change), someone opts out.
      s.join('u1', 'User 1', 70, '65-plus');
      bandOf.set('u1', '65-plus');
      s.join('u2', 'User 2', 70, undefined);
      bandOf.set('u2', undefined);

      const chunks = s.snapshot(0, 5_000, 64);
      const all = entries(chunks);
      expect(all).to.have.length(300);
      for (const [b, band] of AGE_BANDS.entries()) {
        const members = all.filter((e) => bandOf.get(e.userId) === band.id); // whole-board order
        members.forEach((e, i) => expect([e.userId, e.band, e.bandRank]).to.deep.equal([e.userId, b, i + 1]));
        const board = chunks[0].bands![b];
        if (members.length === 0) expect(board).to.equal(null);
        else {
          expect(board!.participants).to.equal(members.length);
          expect(board!.top.map((t) => [t.userId, t.rank, t.score])).to.deep.equal(
            members.slice(0, BAND_TOP_SIZE).map((e, i) => [e.userId, i + 1, e.score]),
          );
        }
      }
      for (const e of all.filter((x) => bandOf.get(x.userId) === undefined)) {
        expect([e.band, e.bandRank]).to.deep.equal([-1, 0]);
      }

      // A delta carries the changed users' current band ranks.
      s.rate('u1', 99, 100, 99_000);
      const [delta] = s.delta(1, 99_000, 64);
      const full = entries(s.snapshot(2, 99_000, 64));
      const mine = full.find((e) => e.userId === 'u1')!;
      expect(delta.userIds).to.deep.equal(['u1']);
      expect([delta.bandOf![0], delta.bandRanks![0]]).to.deep.equal([mine.band, mine.bandRank]);
    }
  });

  it('carries no band columns while nobody opted in', () => {
    const s = new SessionStandings(sessionId, 0, 60_000);
    s.join('a', 'A', 70);
    s.rate('a', 1, 10, 1_000);
    const [chunk] = s.snapshot(0, 1_000, 10);
    expect(chunk).to.not.have.any.keys('bandOf', 'bandRanks', 'bands');
    const [delta] = (s.rate('a', 2, 10, 2_000), s.delta(1, 2_000, 10));
    expect(delta).to.not.have.any.keys('bandOf', 'bandRanks', 'bands');
  });
});
