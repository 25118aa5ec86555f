import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { rendezvousOwner, rendezvousWeight } from '../../src/session/rendezvous.js';

/** 1000 fixed UUID-shaped session ids (deterministic, so the bounds below cannot flake). */
const sessions = Array.from({ length: 1000 }, (_, i) => {
  const h = createHash('sha1').update(`session-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
});
const engines = ['engine-1', 'engine-2', 'engine-3'];

function assign(members: string[]): Map<string, string> {
  return new Map(sessions.map((s) => [s, rendezvousOwner(s, members)!]));
}

describe('rendezvous assignment of sessions to engines', () => {
  it('gives every session the same owner whatever order the members are listed in', () => {
    const a = assign(engines);
    const b = assign([...engines].reverse());
    expect([...a]).to.deep.equal([...b]);
  });

  it('spreads 1000 sessions over 3 engines evenly (each within 333 ± 20%)', () => {
    const counts = new Map<string, number>();
    for (const owner of assign(engines).values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    expect([...counts.keys()].sort()).to.deep.equal(engines);
    for (const n of counts.values()) expect(n).to.be.within(267, 400);
  });

  it('moves only the sessions of an engine that leaves', () => {
    const before = assign(engines);
    const after = assign(['engine-1', 'engine-3']);
    let moved = 0;
    for (const [s, owner] of before) {
      if (owner === 'engine-2') {
        expect(after.get(s)).to.be.oneOf(['engine-1', 'engine-3']);
        moved++;
      } else expect(after.get(s), s).to.equal(owner);
    }
    expect(moved).to.be.within(267, 400);
  });

  it('moves about a quarter of the sessions, all to it, when a fourth engine joins', () => {
    const before = assign(engines);
    const after = assign([...engines, 'engine-4']);
    let moved = 0;
    for (const [s, owner] of before) {
      if (after.get(s) !== owner) {
        expect(after.get(s)).to.equal('engine-4');
        moved++;
      }
    }
    expect(moved).to.be.within(200, 300);
  });

  it('has no owner without members and a stable weight per (session, member)', () => {
    expect(rendezvousOwner(sessions[0], [])).to.equal(undefined);
    expect(rendezvousWeight(sessions[0], 'engine-1')).to.equal(rendezvousWeight(sessions[0], 'engine-1'));
    expect(rendezvousWeight(sessions[0], 'engine-1')).not.to.equal(rendezvousWeight(sessions[0], 'engine-2'));
  });
});
