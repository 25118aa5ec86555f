import { expect } from 'chai';
import { TypedEmitter } from '../src/emitter.js';

class Events extends TypedEmitter<{ tick: number; other: string }> {
  tick(n: number): void {
    this.emit('tick', n);
  }
  /** The hot-path form: the event named at the call site. */
  tickNamed(n: number): void {
    this.fire(this.handlers.tick, n);
  }
  has(): boolean {
    return this.handlers.tick !== undefined;
  }
}

describe('TypedEmitter', () => {
  it('calls a lone listener, then several in the order they subscribed, each once', () => {
    const events = new Events();
    const seen: string[] = [];
    const a = (n: number) => seen.push(`a${n}`);
    const b = (n: number) => seen.push(`b${n}`);
    expect(events.has()).to.equal(false);
    events.on('tick', a);
    events.on('tick', a); // subscribed twice, called once
    events.tick(1);
    events.on('tick', b);
    events.tick(2);
    events.tickNamed(3);
    expect(seen).to.deep.equal(['a1', 'a2', 'b2', 'a3', 'b3']);
  });

  it('unsubscribes one listener and leaves the others; none left means nobody listens', () => {
    const events = new Events();
    const seen: string[] = [];
    const offA = events.on('tick', (n) => seen.push(`a${n}`));
    const offB = events.on('tick', (n) => seen.push(`b${n}`));
    const offC = events.on('tick', (n) => seen.push(`c${n}`));
    offB();
    events.tick(1);
    offA();
    events.tick(2);
    offC();
    events.tick(3);
    offC(); // twice: harmless
    expect(seen).to.deep.equal(['a1', 'c1', 'c2']);
    expect(events.has()).to.equal(false);
  });

  it('calls the listeners an emit started with, even if one unsubscribes another meanwhile', () => {
    const events = new Events();
    const seen: string[] = [];
    let offB = () => undefined as void;
    events.on('tick', (n) => {
      seen.push(`a${n}`);
      offB();
    });
    offB = events.on('tick', (n) => seen.push(`b${n}`));
    events.tick(1);
    events.tick(2);
    expect(seen).to.deep.equal(['a1', 'b1', 'a2']);
  });
});
