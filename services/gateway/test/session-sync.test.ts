import { expect } from 'chai';
import type { JetStreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { createMetrics } from '../src/metrics.js';
import { LocalSessions, SESSION_RESYNC_MS, type SessionsDeps } from '../src/sessions.js';
import { NatsWorld, sessionSnapshot } from './harness.js';

/** A client of a LocalSession as far as joining goes: nothing is sent to it before its welcome. */
const client = (userId: string) =>
  ({ userId, connectionId: userId, acceptedAtMs: 0, welcomed: false }) as never;

describe('LocalSession: the view of a session is read once for a burst of connections (real NATS)', () => {
  let world: NatsWorld;
  let sessions: LocalSessions;
  let reads = 0;
  let failNext = false;

  before(async () => {
    world = await NatsWorld.start({ engine: false });
    const real = world.jsm;
    // The real JetStream, with its reads of a session's last event counted (and one made to fail on demand).
    const jsm = {
      streams: {
        getMessage: (...args: Parameters<JetStreamManager['streams']['getMessage']>) => {
          reads++;
          if (failNext) {
            failNext = false;
            return Promise.reject(new Error('JetStream unavailable'));
          }
          return real.streams.getMessage(...args);
        },
      },
    } as unknown as JetStreamManager;
    sessions = new LocalSessions({
      nc: world.nc,
      jsm,
      names: world.names,
      gatewayId: 'sync-test',
      presenceIntervalMs: 1_000,
      rating: { ratePerSec: 5, burst: 10 },
      endBarriers: {},
      follows: {},
      metrics: createMetrics(),
      logger: pino({ level: 'silent' }),
    } as unknown as SessionsDeps);
  });
  after(async () => {
    sessions.stop();
    await world.stop();
  });

  it('shares one read among the connections that arrive together, and reads again after SESSION_RESYNC_MS', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    reads = 0;
    const local = sessions.join(session.id, session.startsAt, client('a'));
    const now = Date.now();
    await Promise.all(['a', 'b', 'c', 'd'].map(() => local.synced(now)));
    expect(reads).to.equal(1);
    expect(local.view.status).to.equal('live');
    await local.synced(now + SESSION_RESYNC_MS - 1);
    expect(reads).to.equal(1);
    await local.synced(now + SESSION_RESYNC_MS);
    expect(reads).to.equal(2);
  });

  it('does not keep a failed read: the next connection reads again', async () => {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    reads = 0;
    const local = sessions.join(session.id, session.startsAt, client('e'));
    failNext = true;
    const now = Date.now();
    let failed = false;
    await local.synced(now).catch(() => (failed = true));
    expect(failed).to.equal(true);
    await local.synced(now + 1);
    expect(reads).to.equal(2);
    expect(local.view.status).to.equal('live');
  });
});
