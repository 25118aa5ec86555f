import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { expect } from 'chai';
import { natsNames, partitionOf } from '@pulse/contracts';
import type { RankFrame } from '@pulse/contracts';
import { LoadDevice } from '../../src/client/load-device.js';
import { LocalStack } from '../../src/stack.js';
import { sleep } from '../../src/stack/ports.js';
import { ExpectedStandings, scoresFromSent } from '../../src/verify/standings.js';
import {
  SessionFixture,
  describeE2e,
  e2eStackOptions,
  seededRandom,
  type SentRating,
} from '../e2e/fixture.js';

const SESSIONS = 3;
const TRAINEES = 8;
const RATINGS = 15;
const KILL_AFTER = 5;
const GATEWAY_RESTART_AFTER = 10;
const TTL_MS = 3_000;

/** The engines' lease key of a session: its ratings partition's (`leases.p<n>`, issue 12). */
const leaseKey = (sessionId: string) => `p${partitionOf(sessionId)}`;

/**
 * A trainee's device through the SDK (issue 15): REST (account, register, join) is the fixture's, the socket is a
 * LiveSession with the join's ticket. It reconnects, resumes from `welcome.lastSeq` and resends by itself.
 */
interface Rider {
  userId: string;
  url: string;
  device: LoadDevice;
  sent: SentRating[];
  closeCodes: number[];
}

function ridersOf(fx: SessionFixture): Rider[] {
  return fx.trainees.map((t) => {
    // The fixture's raw connection is never opened: only its gateway URL and ticket are used.
    const device = new LoadDevice(t.conn.url, t.conn.ticket, { validate: 'full' });
    const rider: Rider = { userId: t.account.user.id, url: t.conn.url, device, sent: [], closeCodes: [] };
    device.live.on('disconnect', ({ closeCode }) => rider.closeCodes.push(closeCode));
    return rider;
  });
}

/** Resolves with the next rank frame the device reads. */
function nextRank(device: LoadDevice, timeoutMs: number): Promise<RankFrame> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no rank frame within ${timeoutMs} ms`)), timeoutMs);
    const off = device.live.on('rank', (frame) => {
      off();
      clearTimeout(timer);
      resolve(frame);
    });
  });
}

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
    const riders = new Map<SessionFixture, Rider[]>();

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
        const rs = ridersOf(fx);
        await Promise.all(rs.map((r) => r.device.start()));
        await fx.start();
        await Promise.all(rs.map((r) => r.device.waitLive(10_000)));
        fxs.push(fx);
        riders.set(fx, rs);
      }
    });
    after(async () => {
      for (const rs of riders.values()) await Promise.all(rs.map((r) => r.device.close()));
      await stack?.close(); // drops the ratings and events streams and the engines KV bucket
      await nc?.drain();
    });

    it('moves the killed engine’s sessions, the restarted gateway’s clients resume through the SDK, and every session ends exactly', async () => {
      const holders = await waitForLeases();
      const engines = stack.byKind('live-engine').map((p) => p.spec.name);
      expect([...holders.values()].every((h) => engines.includes(h))).to.equal(true);
      const load = (e: string) => fxs.filter((fx) => holders.get(leaseKey(fx.session.id)) === e).length;
      const victim = [...engines].sort((a, b) => load(b) - load(a))[0];
      const moved = fxs.filter((fx) => holders.get(leaseKey(fx.session.id)) === victim);

      const random = seededRandom(77);
      let pauseMs: number[] = [];
      const all = [...riders.values()].flat();
      for (let seq = 1; seq <= RATINGS; seq++) {
        for (const r of all) {
          // Kept in the SDK's outbox while its socket is away; sent (or resent) once it is live again.
          const rating = r.device.rate(random(5, 99));
          r.sent.push({ userId: r.userId, seq: rating.seq, energy: rating.energy });
        }
        if (seq === KILL_AFTER) {
          await sleep(50);
          const killAt = Date.now();
          const firstRanks = moved.map((fx) =>
            nextRank(riders.get(fx)![0].device, TTL_MS + 20_000).then(() => Date.now() - killAt),
          );
          await stack.kill(victim);
          pauseMs = await Promise.all(firstRanks);
        }
        if (seq === GATEWAY_RESTART_AFTER) {
          const gw2 = stack.gatewayUrls[1];
          const onGw2 = all.filter((r) => r.url === gw2);
          await stack.restart('gateway-2');
          for (const r of onGw2) {
            expect(r.closeCodes[0], 'close code from a draining gateway').to.equal(1012);
          }
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
        const rs = riders.get(fx)!;
        const expected = new ExpectedStandings(scoresFromSent(rs.flatMap((r) => r.sent)));
        // Every device's ratings counted; then every device's frames converge on the final order. A frame that
        // counts a device's own last rating may still show others before their last one, and the others' moves
        // reach it with the next full snapshot (at least one a second), so wait for that, at most 15 s: two
        // frames more were not always enough on a slow box.
        await Promise.all(rs.map((r) => r.device.waitForRankSeq(RATINGS, 60_000)));
        const reported = () => rs.map((r) => ({ userId: r.userId, ...r.device.lastRank! }));
        const converged = Date.now() + 15_000;
        while (expected.problems(reported(), 'last rank frame').length > 0 && Date.now() < converged)
          await sleep(100);
        expect(expected.problems(reported(), 'last rank frame')).to.deep.equal([]);
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
      expect(all.flatMap((r) => r.device.protocolViolations)).to.deep.equal([]);
      const reconnects = all.reduce((n, r) => n + r.device.reconnects, 0);
      const unavailable = all.reduce((n, r) => n + (r.device.errors.get('UNAVAILABLE') ?? 0), 0);
      console.log(
        `      ${moved.length} session(s) moved off ${victim}: first rank frame ${pauseMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s after SIGKILL (TTL ${TTL_MS / 1000} s); ${reconnects} reconnect(s) by the SDK, ${unavailable} UNAVAILABLE answer(s)`,
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
