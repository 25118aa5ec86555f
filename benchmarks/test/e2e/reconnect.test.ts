import { expect } from 'chai';
import { LocalStack } from '../../src/stack.js';
import { PulseClient } from '@pulse/sdk';
import { TraineeConnection } from '../../src/client/trainee.js';
import { ExpectedStandings, scoresFromSent } from '../../src/verify/standings.js';
import { SessionFixture, e2eStackOptions, type Trainee, describeE2e } from './fixture.js';

describeE2e('A trainee reconnecting through the other gateway', function () {
  this.timeout(180_000);
  let stack: LocalStack;
  let fx: SessionFixture;
  let rider: Trainee;

  before(async () => {
    stack = await LocalStack.start(e2eStackOptions());
    fx = new SessionFixture(stack);
    await fx.create(4, 'Reconnect');
    await fx.connectAll();
    await fx.start();
    await Promise.all(fx.trainees.map((t) => t.conn.nextFrame((f) => f.type === 'started', 10_000, true)));
    rider = fx.trainees[0];
    expect(rider.conn.url).to.equal(stack.gatewayUrls[0]);
  });
  after(async () => {
    await fx?.closeAll();
    await stack?.close();
  });

  /** A fresh ticket and socket for the rider, on the gateway given. */
  async function reconnect(gatewayUrl: string) {
    const join = await rider.account.client.join(fx.session.id);
    expect(join.state).to.equal('live');
    rider.conn = new TraineeConnection(gatewayUrl, join.ticket, { validate: 'full', keepFrames: true });
    return rider.conn.connect();
  }

  it('gets exactly the last stored seq after a clean disconnect', async () => {
    for (let i = 1; i <= 10; i++) fx.rate(rider, 10 + i);
    for (const other of fx.trainees.slice(1)) fx.rate(other, 30);
    await rider.conn.waitForRankSeq(10);
    await rider.conn.close();
    const welcome = await reconnect(stack.gatewayUrls[1]);
    expect(welcome).to.include({ state: 'live', lastSeq: 10 });
  });

  it('resends from lastSeq + 1 after losing its network mid-burst and ends with an exact score', async () => {
    for (let i = 0; i < 10; i++) fx.rate(rider, 40 + i);
    await rider.conn.terminate();
    const welcome = await reconnect(stack.gatewayUrls[0]);
    expect(welcome.lastSeq).to.be.within(10, 20);
    for (let seq = welcome.lastSeq + 1; seq <= 20; seq++) fx.resend(rider, seq);
    for (let i = 0; i < 5; i++) fx.rate(rider, 70 + i);
    const rank = await rider.conn.waitForRankSeq(25);
    const expected = scoresFromSent(rider.sent).get(rider.account.user.id)!;
    expect(expected).to.equal(
      [...Array(10)].reduce((a, _, i) => a + 11 + i + 40 + i, 0) + 70 + 71 + 72 + 73 + 74,
    );
    expect(rank.score).to.equal(expected);
    expect(rider.conn.errors.size, JSON.stringify([...rider.conn.errors])).to.equal(0);
  });

  it('keeps that exact score in the final results and in ClickHouse', async () => {
    await fx.settleRanks();
    await fx.end();
    const expected = new ExpectedStandings(scoresFromSent(fx.allSent()));
    const results = await fx.resultsWhen((items) => expected.problems(items, 'results').length === 0);
    expect(expected.problems(results.items, 'results')).to.deep.equal([]);
    const stored = await fx.storedWhen(25 + 3);
    expect(stored.stored).to.equal(28);
    expect(stored.perUser.get(rider.account.user.id)).to.deep.equal({
      count: 25,
      energy: expected.scores.get(rider.account.user.id),
    });
  });
  it('keeps a long-running client signed in by rotating its tokens through /v1/auth/refresh', async () => {
    const { client } = rider.account;
    const original = client.tokens.current!.refreshToken;
    // An access token that no longer verifies, as after its lifetime: the SDK refreshes once and retries.
    client.tokens.set({ accessToken: 'expired', refreshToken: original });
    expect((await client.me()).id).to.equal(rider.account.user.id);
    expect(client.tokens.current!.refreshToken).to.not.equal(original);
    // The SDK rotated the pair: the refresh token it started from is spent.
    const reuse = await new PulseClient({ baseUrl: stack.apiUrl }).api.POST('/v1/auth/refresh', {
      body: { refreshToken: original },
    });
    expect(reuse.response.status).to.equal(401);
  });
});
