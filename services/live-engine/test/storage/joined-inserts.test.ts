import { expect } from 'chai';
import { JoinedInserts } from '../../src/storage/joined-inserts.js';

/** Inserts that record what they were given and finish when the test says so. */
function recorder() {
  const inserts: string[][] = [];
  const pending: Array<{ done(): void; fail(err: Error): void }> = [];
  const joined = new JoinedInserts<string>(
    (parts) =>
      new Promise<void>((done, fail) => {
        inserts.push(parts);
        pending.push({ done, fail });
      }),
  );
  return { joined, inserts, pending };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('JoinedInserts: the writes of all partitions at one moment in one insert', () => {
  it('stores the writes handed over in one turn together, in order', async () => {
    const { joined, inserts, pending } = recorder();
    const stored = ['p0', 'p1', 'p2'].map((p) => joined.write(p));
    await turn();
    expect(inserts).to.deep.equal([['p0', 'p1', 'p2']]);
    pending[0].done();
    await Promise.all(stored);
  });

  it('joins the writes that arrive while an insert is stored into the next one, resolving each when stored', async () => {
    const { joined, inserts, pending } = recorder();
    const first = joined.write('a');
    await turn();
    let laterStored = 0;
    const later = ['b', 'c', 'd'].map((p) => joined.write(p).then(() => laterStored++));
    await turn();
    expect(inserts).to.deep.equal([['a']]);
    pending[0].done();
    await first;
    await turn();
    expect(inserts).to.deep.equal([['a'], ['b', 'c', 'd']]);
    expect(laterStored).to.equal(0);
    pending[1].done();
    await Promise.all(later);
    expect(laterStored).to.equal(3);
  });

  it('fails every write of a failed insert, and stores later writes in a new one', async () => {
    const { joined, inserts, pending } = recorder();
    const failing = ['x', 'y'].map((p) =>
      joined.write(p).then(
        () => 'stored',
        (err: Error) => err.message,
      ),
    );
    await turn();
    pending[0].fail(new Error('ClickHouse is down'));
    expect(await Promise.all(failing)).to.deep.equal(['ClickHouse is down', 'ClickHouse is down']);
    const retried = joined.write('x');
    await turn();
    expect(inserts).to.deep.equal([['x', 'y'], ['x']]);
    pending[1].done();
    await retried;
  });
});
