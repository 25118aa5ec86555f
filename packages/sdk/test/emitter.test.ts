import { expect } from 'chai';
import { TypedEmitter } from '../src/emitter.js';

class Events extends TypedEmitter<{ tick: number; other: string }> {
  fire(n: number): void {
    this.emit('tick', n);
  }
  has(): boolean {
    return this.listening('tick');
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
    events.fire(1);
    events.on('tick', b);
    events.fire(2);
    expect(seen).to.deep.equal(['a1', 'a2', 'b2']);
  });

  it('unsubscribes one listener and leaves the others; none left means nobody listens', () => {
    const events = new Events();
    const seen: string[] = [];
    const offA = events.on('tick', (n) => seen.push(`a${n}`));
    const offB = events.on('tick', (n) => seen.push(`b${n}`));
    const offC = events.on('tick', (n) => seen.push(`c${n}`));
    offB();
    events.fire(1);
    offA();
    events.fire(2);
    offC();
    events.fire(3);
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
    events.fire(1);
    events.fire(2);
    expect(seen).to.deep.equal(['a1', 'b1', 'a2']);
  });
});
