import { expect } from 'chai';
import { createMetrics } from '../src/metrics.js';
import { RankDelivery, type FrameSink } from '../src/rank-delivery.js';

/** A socket stand-in: records writes, holds their callbacks, reports a settable buffer. */
function sink() {
  const s = {
    bufferedAmount: 0,
    written: [] as string[],
    callbacks: [] as Array<() => void>,
    slowCalls: 0,
    write(frame: string, onWritten: () => void) {
      s.written.push(frame);
      s.callbacks.push(onWritten);
    },
    slow() {
      s.slowCalls++;
    },
  };
  return s satisfies FrameSink;
}

function delivery(socket: FrameSink, clock: { now: number }) {
  return new RankDelivery(
    socket,
    { sendBufferLowBytes: 100, sendBufferMaxBytes: 1_000, slowConsumerMs: 5_000, now: () => clock.now },
    createMetrics(),
  );
}

describe('RankDelivery (one client’s rank frames out, no servers)', () => {
  it('sends a frame at once when its seq moved, and holds one whose seq did not until it is stale', () => {
    const socket = sink();
    const clock = { now: 1_000 };
    const ranks = delivery(socket, clock);
    ranks.offer('r1', 1);
    ranks.offer('r1-again', 1); // same seq: only becomes the newest frame
    expect(socket.written).to.deep.equal(['r1']);
    ranks.refresh(1_600, 700);
    expect(socket.written).to.deep.equal(['r1']);
    ranks.refresh(1_700, 700);
    expect(socket.written).to.deep.equal(['r1', 'r1-again']);
    ranks.offer('r2', 2);
    expect(socket.written).to.deep.equal(['r1', 'r1-again', 'r2']);
  });

  it('tells the seq and time of each frame it writes (the rating → rank latency), not of dropped ones', () => {
    const socket = sink();
    const clock = { now: 0 };
    const written: Array<[number, number]> = [];
    const ranks = new RankDelivery(
      socket,
      {
        sendBufferLowBytes: 100,
        sendBufferMaxBytes: 1_000,
        slowConsumerMs: 5_000,
        now: () => clock.now,
        written: (seq, atMs) => written.push([seq, atMs]),
      },
      createMetrics(),
    );
    ranks.offer('r1', 1);
    socket.bufferedAmount = 500;
    clock.now = 50;
    ranks.offer('r2', 2); // held back, then replaced
    ranks.offer('r3', 3);
    socket.bufferedAmount = 0;
    clock.now = 90;
    ranks.offer('r4', 4);
    expect(written).to.deep.equal([
      [1, 0],
      [4, 90],
    ]);
  });

  it('keeps only the newest frame while the socket is backed up, and sends it once it drained', () => {
    const socket = sink();
    const clock = { now: 0 };
    const ranks = delivery(socket, clock);
    socket.bufferedAmount = 500;
    ranks.offer('r1', 1);
    ranks.offer('r2', 2);
    ranks.offer('r3', 3);
    expect(socket.written).to.deep.equal([]);
    socket.bufferedAmount = 0;
    ranks.offer('r4', 4);
    expect(socket.written).to.deep.equal(['r4']);
  });

  it('retries the pending frame from the previous write callback', () => {
    const socket = sink();
    const ranks = delivery(socket, { now: 0 });
    ranks.offer('r1', 1);
    socket.bufferedAmount = 500;
    ranks.offer('r2', 2);
    expect(socket.written).to.deep.equal(['r1']);
    socket.bufferedAmount = 50;
    socket.callbacks[0]();
    expect(socket.written).to.deep.equal(['r1', 'r2']);
  });

  it('calls the client slow past the buffer limit or after slowConsumerMs without a frame out', () => {
    const socket = sink();
    const clock = { now: 0 };
    const ranks = delivery(socket, clock);
    socket.bufferedAmount = 500;
    ranks.offer('r1', 1);
    clock.now = 5_001;
    ranks.offer('r2', 2);
    expect(socket.slowCalls).to.equal(1);
    socket.bufferedAmount = 2_000;
    ranks.offer('r3', 3);
    expect([socket.slowCalls, socket.written]).to.deep.equal([2, []]);
  });

  it('sends nothing after stop', () => {
    const socket = sink();
    const ranks = delivery(socket, { now: 0 });
    ranks.stop();
    ranks.offer('r1', 1);
    ranks.refresh(10_000, 700);
    expect(socket.written).to.deep.equal([]);
  });
});
