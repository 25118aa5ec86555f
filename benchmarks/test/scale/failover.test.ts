import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { expect } from 'chai';
import { natsNames, partitionOf } from '@pulse/contracts';
import { TraineeConnection } from '../../src/client/trainee.js';
import { LocalStack } from '../../src/stack.js';
import { sleep } from '../../src/stack/ports.js';
import { ExpectedStandings, scoresFromSent } from '../../src/verify/standings.js';
import { SessionFixture, describeE2e, e2eStackOptions, seededRandom, type Trainee } from '../e2e/fixture.js';

const SESSIONS = 3;
const TRAINEES = 8;
const RATINGS = 15;
const KILL_AFTER = 5;
const GATEWAY_RESTART_AFTER = 10;
const TTL_MS = 3_000;

/** The engines' lease key of a session: its ratings partition's (`leases.p<n>`, issue 12). */
const leaseKey = (sessionId: string) => `p${partitionOf(sessionId)}`;

/** Partition key → engine id holding its lease in the engines KV bucket. */
async function leaseHolders(kv: KV): Promise<Map<string, string>> {
  const keys = new Set<string>();
  for await (const k of await kv.keys('leases.>')) keys.add(k);
  const out = new Map<string, string>();
  for (const key of keys) {
    const e = await kv.get(key);
    if (e?.operation === 'PUT')
      out.set(key.slice('leases.'.length), (e.json() as { engineId: string }).engineId);
  }
  return out;
}

describeE2e(
  'Scale-out: 2 gateways + 3 engines + the API, an engine killed and a gateway restarted',
  function () {
    this.timeout(300_000);
    let stack: LocalStack;
    let nc: NatsConnection;
    let kv: KV;
    const fxs: SessionFixture[] = [];
    let unavailableConnects = 0;

    before(async () => {
      stack = await LocalStack.start(
        e2eStackOptions({
          gateways: 2,
          engines: 3,
          env: { 'live-engine': { ENGINE_LEASE_TTL_MS: String(TTL_MS), ACK_WAIT_MS: '3000' } },
        }),
      );
      nc = await connect({ servers: stack.infra.natsUrl });
      kv = await new Kvm(nc).open(natsNames(stack.isolation.natsNamespace).enginesBucket);
      for (let s = 0; s < SESSIONS; s++) {
        const fx = new SessionFixture(stack);
        await fx.create(TRAINEES, `Scale${s}`);
        await fx.connectAll();
        await fx.start();
        await Promise.all(
          fx.trainees.map((t) => t.conn.nextFrame((f) => f.type === 'started', 10_000, true)),
        );
        fxs.push(fx);
      }
    });
    after(async () => {
      for (const fx of fxs) await fx.closeAll();
      await stack?.close(); // drops the ratings and events streams and the engines KV bucket
      await nc?.drain();
    });

    /**
     * A fresh ticket and socket on `url` for a trainee whose gateway went away. While the killed engine's
     * partitions have no owner, nobody answers the gateway's lastSeq request: the connect gets UNAVAILABLE and
     * 1012, and the device reconnects, as the protocol says (issue 12).
     */
    async function reconnect(fx: SessionFixture, t: Trainee, url: string) {
      for (let attempt = 1; ; attempt++) {
        const join = await t.account.client.join(fx.session.id);
        t.conn = new TraineeConnection(url, join.ticket, { validate: 'full', keepFrames: true });
        try {
          return await t.conn.connect();
        } catch (err) {
          if (attempt >= 30 || !String(err).includes('UNAVAILABLE')) throw err;
          unavailableConnects++;
          await sleep(500);
        }
      }
    }

    it('moves the killed engine’s sessions, reconnects the restarted gateway’s clients, and ends every session exactly', async () => {
      const holders = await waitForLeases();
      const engines = stack.byKind('live-engine').map((p) => p.spec.name);
      expect([...holders.values()].every((h) => engines.includes(h))).to.equal(true);
      const load = (e: string) => fxs.filter((fx) => holders.get(leaseKey(fx.session.id)) === e).length;
      const victim = [...engines].sort((a, b) => load(b) - load(a))[0];
      const moved = fxs.filter((fx) => holders.get(leaseKey(fx.session.id)) === victim);

      const random = seededRandom(77);
      let pauseMs: number[] = [];
      for (let seq = 1; seq <= RATINGS; seq++) {
        for (const fx of fxs) for (const t of fx.trainees) fx.rate(t, random(5, 99));
        if (seq === KILL_AFTER) {
          await sleep(50);
          const killAt = Date.now();
          const firstRanks = moved.map((fx) =>
            fx.trainees[0].conn
              .nextFrame((f) => f.type === 'rank', TTL_MS + 20_000)
              .then(() => Date.now() - killAt),
          );
          await stack.kill(victim);
          pauseMs = await Promise.all(firstRanks);
        }
        if (seq === GATEWAY_RESTART_AFTER) {
          const [gw1, gw2] = stack.gatewayUrls;
          const restarting = stack.restart('gateway-2');
          for (const fx of fxs) {
            for (const t of fx.trainees.filter((x) => x.conn.url === gw2)) {
              expect(await t.conn.closed, 'close code from a draining gateway').to.equal(1012);
              const welcome = await reconnect(fx, t, gw1);
              for (let s = welcome.lastSeq + 1; s <= t.seq; s++) fx.resend(t, s);
            }
          }
          await restarting;
        }
        await sleep(100);
      }

      // The killed engine’s sessions are at survivors now; nobody holds two leases for one session.
      // The dead engine's leases expire after the TTL; a survivor must then hold each of them.
      const after = await waitForLeases((h) =>
        moved.every((fx) => h.get(leaseKey(fx.session.id)) !== victim),
      );
      for (const fx of moved) expect(after.get(leaseKey(fx.session.id))).to.not.equal(victim);

      for (const fx of fxs) {
        const expected = new ExpectedStandings(scoresFromSent(fx.allSent()));
        const last = await fx.settleRanks(60_000);
        const reported = fx.trainees.map((t) => ({
          userId: t.account.user.id,
          ...last.get(t.account.user.id)!,
        }));
        expect(expected.problems(reported, 'last rank frame')).to.deep.equal([]);
        await fx.end();
        const results = await fx.resultsWhen(
          (items) => expected.problems(items, 'results').length === 0,
          60_000,
        );
        expect(expected.problems(results.items, 'results')).to.deep.equal([]);
        const stored = await fx.storedWhen(TRAINEES * RATINGS, 60_000);
        expect({ stored: stored.stored, unique: stored.unique }).to.deep.equal({
          stored: TRAINEES * RATINGS,
          unique: TRAINEES * RATINGS,
        });
      }
      console.log(
        `      ${moved.length} session(s) moved off ${victim}: first rank frame ${pauseMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s after SIGKILL (TTL ${TTL_MS / 1000} s); ${unavailableConnects} reconnect(s) refused with UNAVAILABLE while no engine owned a partition`,
      );
    });

    async function waitForLeases(
      settled: (holders: Map<string, string>) => boolean = () => true,
    ): Promise<Map<string, string>> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const holders = await leaseHolders(kv);
        if (fxs.every((fx) => holders.has(leaseKey(fx.session.id))) && settled(holders)) return holders;
        if (Date.now() > deadline) throw new Error(`leases missing: have ${JSON.stringify([...holders])}`);
        await sleep(200);
      }
    }
  },
);
