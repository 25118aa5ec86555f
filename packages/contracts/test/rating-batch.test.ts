import { expect } from 'chai';
import {
  decodeRatingBatch,
  encodeRatingBatch,
  natsNames,
  ratingBatchMsgId,
  type RatingMessage,
} from '../src/index.js';

const a = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const b = '16fd2706-8baf-433b-82eb-8c7fada847da';
const rating = (sessionId: string, userId: string, seq: number, energy: number): RatingMessage => ({
  kind: 'rating',
  sessionId,
  userId,
  seq,
  energy,
  ts: 1_764_400_000_000 + seq,
});

describe('RatingBatch', () => {
  it('round-trips the ratings of several sessions, grouped by session, in order', () => {
    const bySession = new Map([
      [a, [rating(a, b, 1, 40), rating(a, a, 7, 55.55)]],
      [b, [rating(b, b, 2, 0)]],
    ]);
    const encoded = encodeRatingBatch(bySession);
    expect(encoded).to.equal(
      `{"s":{"${a}":[["${b}",1,40,1764400000001],["${a}",7,55.55,1764400000007]],"${b}":[["${b}",2,0,1764400000002]]}}`,
    );
    const decoded = decodeRatingBatch(encoded);
    expect(decoded).to.deep.equal({ ok: true, sessions: bySession });
  });

  it('refuses a batch with a bad field and names it', () => {
    const cases: Array<[string, string]> = [
      ['{', 'not JSON'],
      ['{"s":[]}', 'no sessions'],
      [`{"s":{"x":[]}}`, 'session x'],
      [`{"s":{"${a}":[["${b}",0,40,1]]}}`, 'seq'],
      [`{"s":{"${a}":[["${b}",1,100.5,1]]}}`, 'energy'],
      [`{"s":{"${a}":[["${b}",1,40,1.5]]}}`, 'ts'],
      [`{"s":{"${a}":[["nope",1,40,1]]}}`, 'userId'],
      [`{"s":{"${a}":[["${b}",1,40]]}}`, 'entry is not [uid, seq, energy, ts]'],
    ];
    for (const [data, error] of cases) expect(decodeRatingBatch(data)).to.deep.equal({ ok: false, error });
  });

  it('names a batch subject under the partition and ids a batch per gateway incarnation', () => {
    expect(natsNames('t1').ratingBatch(3, 'host.a-12')).to.equal('t1.ratings.3.batch.host_a-12');
    expect(natsNames('t1').lastSeqRequest(3)).to.equal('t1.engine.last-seq.3');
    expect(ratingBatchMsgId('gw-1', 'k2', 3, 17)).to.equal('gw-1.k2.3.17');
  });
});
