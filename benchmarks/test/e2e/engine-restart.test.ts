import { expect } from 'chai';
import { LocalStack } from '../../src/stack.js';
import { sleep } from '../../src/stack/ports.js';
import { ExpectedStandings, scoresFromSent } from '../../src/verify/standings.js';
import { SessionFixture, e2eStackOptions, seededRandom, describeE2e } from './fixture.js';

const TRAINEES = 30;
const RATINGS = 15;
const KILL_AFTER = 7;

describeE2e('The live engine killed (SIGKILL) mid-session and started again', function () {
  this.timeout(240_000);
  let stack: LocalStack;
  let fx: SessionFixture;

  before(async () => {
    // A short ack wait so that JetStream redelivers what the dead engine held within the test's patience.
    stack = await LocalStack.start(
      e2eStackOptions({ gateways: 1, env: { 'live-engine': { ACK_WAIT_MS: '3000' } } }),
    );
    fx = new SessionFixture(stack);
    await fx.create(TRAINEES, 'Crash');
    await fx.connectAll();
    await fx.start();
    await Promise.all(fx.trainees.map((t) => t.conn.nextFrame((f) => f.type === 'started', 10_000, true)));
  });
  after(async () => {
    await fx?.closeAll();
    await stack?.close();
  });

  it('loses nothing, doubles nothing and ends with the computed results', async () => {
    const random = seededRandom(7);
    const pidBefore = stack.process('engine-1').pid;
    for (let seq = 1; seq <= RATINGS; seq++) {
      for (const t of fx.trainees) fx.rate(t, random(5, 99));
      if (seq === KILL_AFTER) {
        await sleep(50);
        await stack.kill('engine-1');
      }
      if (seq === KILL_AFTER + 3) await stack.restart('engine-1');
      await sleep(100);
    }
    expect(stack.process('engine-1').pid).to.be.a('number').and.not.equal(pidBefore);
    const expected = new ExpectedStandings(scoresFromSent(fx.allSent()));
    const last = await fx.settleRanks(60_000);
    const reported = fx.trainees.map((t) => ({ userId: t.account.user.id, ...last.get(t.account.user.id)! }));
    expect(expected.problems(reported, 'last rank frame')).to.deep.equal([]);
    // The gateways store ratings in JetStream whether or not an engine runs: nobody was refused.
    for (const t of fx.trainees) expect([...t.conn.errors], t.account.user.name).to.deep.equal([]);

    await fx.end();
    const results = await fx.resultsWhen((items) => expected.problems(items, 'results').length === 0, 60_000);
    expect(expected.problems(results.items, 'results')).to.deep.equal([]);

    const stored = await fx.storedWhen(TRAINEES * RATINGS, 60_000);
    expect({ stored: stored.stored, unique: stored.unique }).to.deep.equal({
      stored: TRAINEES * RATINGS,
      unique: TRAINEES * RATINGS,
    });
    for (const t of fx.trainees) {
      expect(stored.perUser.get(t.account.user.id), t.account.user.name).to.deep.equal({
        count: RATINGS,
        energy: expected.scores.get(t.account.user.id),
      });
    }
  });
});
