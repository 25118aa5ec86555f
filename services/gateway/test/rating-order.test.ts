import { expect } from 'chai';
import { ErrorCode } from '@pulse/contracts';
import { NotLive, PublishFailed, type GatewayError } from '../src/errors.js';
import { RatingOrder, type PendingRating } from '../src/rating-order.js';

/** A RatingOrder whose publishes fail for the seqs in `failing` (once each) and are recorded otherwise. */
function harness(lastSeq: number, failing: number[]) {
  const stored: number[] = [];
  const refused: GatewayError[] = [];
  const duplicates: number[] = [];
  const failOnce = new Set(failing);
  const order = new RatingOrder(lastSeq, {
    publish: async (r: PendingRating) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (failOnce.delete(r.seq)) throw new PublishFailed(r.seq, new Error('timeout'));
      stored.push(r.seq);
    },
    stored: () => undefined,
    duplicate: (seq) => duplicates.push(seq),
    refused: (err) => refused.push(err),
  });
  const send = (...seqs: number[]) => seqs.forEach((seq) => order.submit({ seq, energy: 50, ts: seq }));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  return { order, stored, refused, duplicates, send, settle };
}

describe('RatingOrder: lastSeq never hides a rating that was not stored', () => {
  it('refuses every seq above a failed one, each with resendFrom = the failed seq', async () => {
    const h = harness(0, [5]);
    h.send(1, 2, 3, 4, 5, 6, 7);
    await h.settle();
    expect(h.stored).to.deep.equal([1, 2, 3, 4]);
    expect(h.refused.map((e) => [e.code, e.seq, e.resendFrom])).to.deep.equal([
      [ErrorCode.UNAVAILABLE, 5, 5],
      [ErrorCode.UNAVAILABLE, 6, 5],
      [ErrorCode.UNAVAILABLE, 7, 5],
    ]);
    expect(h.order.lastStored).to.equal(4);
  });

  it('stores the resent seqs in order once the refused one comes again', async () => {
    const h = harness(0, [2]);
    h.send(1, 2, 3);
    h.send(2, 3, 4); // the client resends from resendFrom before it even saw the errors
    await h.settle();
    expect(h.stored).to.deep.equal([1, 2, 3, 4]);
    expect(h.order.resendFrom).to.equal(null);
  });

  it('keeps later seqs out after a rate-limited one until it is resent', async () => {
    const h = harness(3, []);
    expect(h.order.refuse(4)).to.equal(4);
    h.send(5);
    await h.settle();
    expect(h.stored).to.deep.equal([]);
    expect(h.refused.map((e) => [e.seq, e.resendFrom])).to.deep.equal([[5, 4]]);
    h.send(4, 5);
    await h.settle();
    expect(h.stored).to.deep.equal([4, 5]);
  });

  it('ignores seqs at or below lastSeq and drops queued ratings when the client is gone', async () => {
    const h = harness(2, []);
    h.send(3, 4, 5);
    h.order.stop();
    h.send(6);
    await h.settle();
    expect(h.stored).to.deep.equal([3]); // its publish was already under way; 4 and 5 were dropped
    const fresh = harness(2, []);
    fresh.send(1, 2, 3);
    await fresh.settle();
    expect([fresh.duplicates, fresh.stored]).to.deep.equal([[1, 2], [3]]);
  });

  it('at the end: idle once what was queued is stored, the rest refused with NOT_LIVE and their seqs', async () => {
    const h = harness(0, []);
    await h.order.idle(); // nothing queued: at once
    h.send(1, 2, 3, 4, 5);
    h.order.refuseQueued((seq) => new NotLive(seq, 'ended')); // 1 is in flight, 2..5 still queued
    await h.order.idle();
    expect(h.stored).to.deep.equal([1]);
    expect(h.order.lastStored).to.equal(1);
    expect(h.refused.map((e) => [e.code, e.seq])).to.deep.equal([
      [ErrorCode.NOT_LIVE, 2],
      [ErrorCode.NOT_LIVE, 3],
      [ErrorCode.NOT_LIVE, 4],
      [ErrorCode.NOT_LIVE, 5],
    ]);
  });

  it('is idle once the client is gone, whatever was queued', async () => {
    const h = harness(0, []);
    h.send(1, 2, 3);
    const idle = h.order.idle();
    h.order.stop();
    await idle;
    expect(h.stored.length).to.be.at.most(1);
  });

  it('keeps a higher seq out while a refused one between still waits, after the lowest is stored', async () => {
    // 2 rate limited; the client resends 2; meanwhile 3 is rate limited too; 2 is stored. 4 must not be stored
    // before 3 is: 3 would then be ignored as a duplicate and lost under lastSeq.
    const h = harness(1, []);
    expect(h.order.refuse(2)).to.equal(2);
    h.send(2);
    expect(h.order.refuse(3)).to.equal(2);
    await h.settle();
    expect(h.stored).to.deep.equal([2]);
    h.send(4);
    await h.settle();
    expect(h.stored).to.deep.equal([2]);
    expect(h.refused.map((e) => [e.seq, e.resendFrom])).to.deep.equal([[4, 3]]);
    h.send(3, 4);
    await h.settle();
    expect(h.stored).to.deep.equal([2, 3, 4]);
    expect(h.order.resendFrom).to.equal(null);
  });
});
