import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import {
  ADMIN_USER,
  SERVICE_USERS,
  USERS_SECRET,
  helmUsers,
  passwordEnv,
  servicePermissions,
  type NatsNames,
  type ServiceUser,
} from '../src/nats-permissions.js';
import { loadContracts, type Contracts } from './support/contracts.js';
import { PrivateNatsServer } from './support/nats-server.js';
import { K8S_DIR } from './support/paths.js';
import { subjectMatches, usesOf } from './support/subjects.js';

const NANOS_PER_MS = 1_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const messageOf = (err: unknown): string => {
  const e = err as { message?: string; cause?: unknown };
  return `${e?.message ?? String(err)} ${e?.cause ? messageOf(e.cause) : ''}`;
};

/** `denied` when the server refuses the publish behind the operation, else `allowed` (or what failed). */
async function outcome(op: () => Promise<unknown>): Promise<string> {
  try {
    await op();
    return 'allowed';
  } catch (err) {
    const msg = messageOf(err);
    if (/permissions violation/i.test(msg)) return 'denied';
    if (/no responders|503|timeout/i.test(msg)) return 'allowed';
    return `failed: ${msg}`;
  }
}

/** A core publish, seen through a request: the server answers a forbidden one with a permissions error. */
const publish = (nc: NatsConnection, subject: string) => () => nc.request(subject, '{}', { timeout: 1_000 });

/**
 * `denied` when the server refuses the subscription. The server answers SUB before the PONG of the flush
 * that follows it, so once the flush resolves a refusal has arrived.
 */
async function subscription(nc: NatsConnection, subject: string): Promise<string> {
  const sub = nc.subscribe(subject);
  const closed = sub.closed.then((err) =>
    err && /permissions violation/i.test(messageOf(err)) ? 'denied' : `closed: ${err}`,
  );
  await nc.flush();
  const result = await Promise.race([closed, sleep(100).then(() => 'allowed')]);
  if (result === 'allowed') sub.unsubscribe();
  return result;
}

/** Waits until `done()` holds (or fails after 5 s). */
async function eventually(done: () => boolean): Promise<void> {
  for (const until = Date.now() + 5_000; !done(); await sleep(20)) {
    if (Date.now() > until) return;
  }
}

describe('NATS users and permissions (k8s/nats/values.yaml, tested on a real nats-server)', function () {
  this.timeout(60_000);
  let contracts: Contracts;
  let names: NatsNames;
  let server: PrivateNatsServer;
  const passwords = Object.fromEntries([...SERVICE_USERS, ADMIN_USER].map((u) => [u, randomUUID()]));
  const conns: NatsConnection[] = [];
  const as = async (user: ServiceUser | typeof ADMIN_USER) => {
    const nc = await connect({ servers: server.url, user, pass: passwords[user], name: `k8s-test-${user}` });
    conns.push(nc);
    return nc;
  };
  /** What every service does on start: create or update the contract's streams. */
  const ensureStreams = async (jsm: JetStreamManager) => {
    for (const { duplicate_window_ms, max_age_ms, ...cfg } of contracts.streamConfigs(names, 1)) {
      const config = {
        ...cfg,
        subjects: [...cfg.subjects],
        duplicate_window: duplicate_window_ms * NANOS_PER_MS,
        max_age: max_age_ms * NANOS_PER_MS,
      } as Parameters<JetStreamManager['streams']['add']>[0];
      const exists = await jsm.streams.info(cfg.name).then(
        () => true,
        () => false,
      );
      if (exists) await jsm.streams.update(cfg.name, config);
      else await jsm.streams.add(config);
    }
  };

  before(async () => {
    contracts = await loadContracts();
    names = contracts.natsNames('pulse');
    const table = servicePermissions(names);
    server = await PrivateNatsServer.start([
      ...SERVICE_USERS.map((user) => ({ user, password: passwords[user], permissions: table[user] })),
      { user: ADMIN_USER, password: passwords[ADMIN_USER] },
    ]);
  });

  after(async () => {
    await Promise.allSettled(conns.map((nc) => nc.close()));
    await server?.stop();
  });

  it('renders exactly the table into the Helm values, passwords from the pulse-nats-users Secret', () => {
    const values = parse(readFileSync(path.join(K8S_DIR, 'nats/values.yaml'), 'utf8'));
    expect(values.config.merge.authorization, 'run node k8s/dist/src/print-nats-users.js').to.deep.equal({
      users: helmUsers(names),
    });
    expect(values.config.merge).to.not.have.property('no_auth_user');
    for (const user of [...SERVICE_USERS, ADMIN_USER]) {
      expect(values.container.env[passwordEnv(user)], user).to.deep.equal({
        valueFrom: { secretKeyRef: { name: USERS_SECRET, key: user } },
      });
    }
    expect(values.natsBox.container.env.NATS_USER).to.equal(ADMIN_USER);
  });

  it('gives every subject, stream, bucket and consumer name of the contracts to some service', () => {
    const table = servicePermissions(names);
    const all = SERVICE_USERS.flatMap((u) => [...table[u].publish, ...table[u].subscribe]);
    const streams = [names.ratingsStream, names.eventsStream];
    const unused = Object.entries(names)
      .filter(([key]) => key !== 'namespace')
      .map(([key, v]) => [
        key,
        typeof v === 'function' ? (v as (a: string, b: string) => string)('s1', 'u1') : v,
      ])
      .filter(([, name]) => !usesOf(String(name), streams).some((s) => all.some((p) => subjectMatches(p, s))))
      .map(([key]) => key);
    expect(unused, 'names no production user may use').to.deep.equal([]);
  });

  it('refuses a connection without credentials or with a wrong password', async () => {
    expect(await outcome(() => connect({ servers: server.url }))).to.match(/failed: .*Authorization/);
    expect(await outcome(() => connect({ servers: server.url, user: 'api', pass: 'nope' }))).to.match(
      /failed: .*Authorization/,
    );
  });

  it('lets the api apply the stream settings and publish session events, and nothing else', async () => {
    const nc = await as('api');
    await ensureStreams(await jetstreamManager(nc));
    const ack = await jetstream(nc).publish(names.sessionEvent(randomUUID()), '{"type":"started"}');
    expect(ack.seq).to.be.greaterThan(0);

    const sid = randomUUID();
    const jsm = await jetstreamManager(nc);
    expect(await outcome(publish(nc, names.rating(sid, randomUUID())))).to.equal('denied');
    expect(await outcome(publish(nc, names.ranks(sid)))).to.equal('denied');
    expect(await outcome(() => jsm.streams.delete(names.ratingsStream))).to.equal('denied');
    expect(await outcome(() => jsm.streams.purge(names.eventsStream))).to.equal('denied');
    expect(await outcome(() => jsm.consumers.add(names.ratingsStream, { durable_name: 'x' }))).to.equal(
      'denied',
    );
    expect(await subscription(nc, names.allRatings)).to.equal('denied');
    expect(await subscription(nc, names.ranks(sid))).to.equal('denied');
    // The results freeze hears ends and the engine's results-final notices (issue 13).
    expect(await subscription(nc, names.allSessionEvents)).to.equal('allowed');
    expect(await subscription(nc, names.allResultsFinal)).to.equal('allowed');
    expect(await outcome(publish(nc, names.resultsFinal(sid)))).to.equal('denied');
  });

  it('lets the api write the follows bucket and the gateway read and watch it, not write it (issue 16)', async () => {
    const [api, gw] = [await as('api'), await as('gateway')];
    const bucket = names.followsBucket;
    const apiKv = await new Kvm(api).create(bucket, { history: 1 });
    const follower = randomUUID();
    await jetstream(api).publish(`$KV.${bucket}.${follower}`, '{"following":[]}');
    const gwKv = await new Kvm(gw).open(bucket);
    expect((await gwKv.get(follower))?.string()).to.equal('{"following":[]}');
    const watcher = await gwKv.watch({ key: '>' });
    const changed = '{"following":[{"userId":"x","name":"X"}]}';
    await apiKv.put(follower, changed);
    // The watch's consumer may start after the put (it then delivers only the latest value), so the
    // check is that the change arrives, not how many entries came before it.
    const stop = setTimeout(() => watcher.stop(), 10_000);
    let seen = '';
    for await (const entry of watcher) {
      if (entry.key === follower && (seen = entry.string()) === changed) break;
    }
    clearTimeout(stop);
    expect(seen).to.equal(changed);
    expect(await outcome(publish(gw, `$KV.${bucket}.${follower}`))).to.equal('denied');
    expect(await outcome(publish(await as('engine'), `$KV.${bucket}.${follower}`))).to.equal('denied');
  });

  it('lets the gateway store ratings, read last messages, share presence and hear events and ranks', async () => {
    const [gw, api, engine] = [await as('gateway'), await as('api'), await as('engine')];
    const jsm = await jetstreamManager(gw);
    await ensureStreams(jsm);
    const [sid, uid] = [randomUUID(), randomUUID()];
    const js = jetstream(gw);
    await js.publish(names.participant(sid, uid), '{}', { msgID: `${sid}.${uid}.p` });
    const ack = await js.publish(names.rating(sid, uid), '{"seq":1}', { msgID: `${sid}.${uid}.1` });
    const last = await jsm.streams.getMessage(names.ratingsStream, { last_by_subj: names.rating(sid, uid) });
    expect(last?.seq).to.equal(ack.seq);

    const heard: string[] = [];
    for (const subject of [names.sessionEvent(sid), names.ranks(sid), names.presence(sid)]) {
      gw.subscribe(subject, { callback: (_err, m) => void heard.push(m.subject) });
    }
    await gw.flush();
    await jetstream(api).publish(names.sessionEvent(sid), '{"type":"ended"}');
    engine.publish(names.ranks(sid), '{}');
    gw.publish(names.presence(sid), '{}');
    await Promise.all([gw.flush(), engine.flush()]);
    await eventually(() => heard.length >= 3);
    expect(heard.sort()).to.deep.equal(
      [names.sessionEvent(sid), names.ranks(sid), names.presence(sid)].sort(),
    );
    const event = await jsm.streams.getMessage(names.eventsStream, { last_by_subj: names.sessionEvent(sid) });
    expect(event?.subject).to.equal(names.sessionEvent(sid));

    expect(await outcome(publish(gw, names.ranks(sid)))).to.equal('denied');
    expect(await outcome(publish(gw, names.resultsFinal(sid)))).to.equal('denied');
    expect(await outcome(publish(gw, names.sessionEvent(sid)))).to.equal('denied');
    expect(await outcome(publish(gw, `$KV.${names.enginesBucket}.leases.${sid}`))).to.equal('denied');
    expect(await outcome(() => jsm.streams.delete(names.ratingsStream))).to.equal('denied');
    expect(await outcome(() => jsm.streams.purge(names.ratingsStream))).to.equal('denied');
    expect(
      await outcome(() =>
        jsm.consumers.add(names.ratingsStream, {
          durable_name: names.partitionConsumer(contracts.partitionOf(sid)),
        }),
      ),
    ).to.equal('denied');
    expect(await subscription(gw, names.allRatings)).to.equal('denied');
  });

  it('lets the engine consume, ack and replay a session, own it in the KV bucket and publish ranks', async () => {
    const [engine, gw, api] = [await as('engine'), await as('gateway'), await as('api')];
    const jsm = await jetstreamManager(engine);
    await ensureStreams(jsm);
    const [sid, uid] = [randomUUID(), randomUUID()];
    await jetstream(gw).publish(names.rating(sid, uid), '{"seq":1}', { msgID: `${sid}.${uid}.1` });
    await jetstream(api).publish(names.sessionEvent(sid), '{"type":"started"}');

    const js = jetstream(engine);
    const durable = names.partitionConsumer(contracts.partitionOf(sid));
    await jsm.consumers.add(names.ratingsStream, {
      durable_name: durable,
      // The partition's durable, narrowed to this session: other tests' sessions may share the partition.
      filter_subject: names.sessionRatings(sid),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const m = await (await js.consumers.get(names.ratingsStream, durable)).next({ expires: 2_000 });
    expect(m?.subject).to.equal(names.rating(sid, uid));
    expect(await m!.ackAck()).to.equal(true);
    expect((await jsm.consumers.info(names.ratingsStream, durable)).ack_floor.stream_seq).to.equal(m!.seq);

    // welcome.lastSeq (issue 12): the gateway asks, the engine owning the partition answers on its inbox.
    const lastSeqSubject = names.lastSeqRequest(contracts.partitionOf(sid));
    const responder = engine.subscribe(lastSeqSubject, {
      callback: (_e, msg) => void msg.respond('{"lastSeq":1}'),
    });
    await engine.flush();
    const reply = await gw.request(lastSeqSubject, JSON.stringify({ sessionId: sid, userId: uid }), {
      timeout: 2_000,
    });
    expect(reply.json()).to.deep.equal({ lastSeq: 1 });
    responder.unsubscribe();

    const replay = await js.consumers.get(names.ratingsStream, {
      filter_subjects: names.sessionRatings(sid),
    });
    expect((await replay.next({ expires: 2_000 }))?.seq).to.equal(m!.seq);
    const discovery = await js.consumers.get(names.eventsStream, {
      filter_subjects: names.allSessionEvents,
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    expect((await discovery.next({ expires: 2_000 }))?.subject).to.match(/^pulse\.sessions\.events\./);
    await jsm.consumers.delete(names.ratingsStream, durable);

    const kv = await new Kvm(engine).create(names.enginesBucket, { ttl: 10_000, history: 1 });
    const watch = await kv.watch({ key: '>' });
    await kv.put('members.engine-0', 'engine-0');
    const rev = await kv.create(`leases.${sid}`, 'engine-0');
    await kv.update(`leases.${sid}`, 'engine-0', rev);
    expect((await kv.get(`leases.${sid}`))?.string()).to.equal('engine-0');
    const keys: string[] = [];
    for await (const k of await kv.keys('members.>')) keys.push(k);
    expect(keys).to.deep.equal(['members.engine-0']);
    await kv.delete(`leases.${sid}`);
    let seen = 0;
    for await (const e of watch) if (++seen >= 3 || e.operation === 'DEL') break;
    expect(seen).to.be.at.least(3);
    expect(await outcome(publish(engine, names.ranks(sid)))).to.equal('allowed');
    expect(await outcome(publish(engine, names.resultsFinal(sid)))).to.equal('allowed');

    // Where a replay ends: the partition's last message (issue 14).
    const last = await jsm.streams.getMessage(names.ratingsStream, {
      last_by_subj: names.partitionRatings(contracts.partitionOf(sid)),
    });
    expect(last?.seq).to.be.at.least(m!.seq);
    // Partition checkpoints (issue 14): create the object store, apply its settings, replace and read one.
    const store = await new Objm(js).create(names.checkpointsBucket, { max_bytes: 1_048_576 });
    await jsm.streams.update(`OBJ_${names.checkpointsBucket}`, { max_bytes: 2_097_152 });
    await store.putBlob({ name: 'p0' }, new Uint8Array(200_000).fill(1));
    await store.putBlob({ name: 'p0' }, new Uint8Array(300_000).fill(2));
    expect((await store.getBlob('p0'))?.byteLength).to.equal(300_000);

    expect(await outcome(publish(engine, names.rating(sid, uid)))).to.equal('denied');
    expect(await outcome(publish(engine, names.sessionEvent(sid)))).to.equal('denied');
    expect(await outcome(publish(engine, names.presence(sid)))).to.equal('denied');
    expect(await subscription(engine, names.allPresence)).to.equal('allowed');
    expect(await outcome(() => jsm.streams.delete(names.ratingsStream))).to.equal('denied');
    expect(await outcome(() => jsm.streams.purge(names.eventsStream))).to.equal('denied');
    expect(await subscription(engine, names.allRatings)).to.equal('denied');
  });

  it('keeps the other services out of the KV bucket and the checkpoints', async () => {
    for (const user of ['api', 'gateway'] as const) {
      const nc = await as(user);
      expect(await outcome(() => new Kvm(nc).create(names.enginesBucket)), user).to.equal('denied');
      expect(await outcome(publish(nc, `$KV.${names.enginesBucket}.members.x`)), user).to.equal('denied');
      expect(await outcome(() => new Objm(nc).create(names.checkpointsBucket)), user).to.equal('denied');
      expect(await outcome(publish(nc, `$O.${names.checkpointsBucket}.M.x`)), user).to.equal('denied');
    }
  });
});
