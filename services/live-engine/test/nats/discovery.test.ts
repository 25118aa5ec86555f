import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { pino } from 'pino';
import { ClickHouseTable, type SessionSnapshot } from '@pulse/contracts';
import { FINAL_CHECK_BATCH, SessionDiscovery, type SessionSink } from '../../src/nats/discovery.js';
import { ClickHouseStore } from '../../src/storage/clickhouse.js';
import { openInfra, publishEvent, type Infra } from '../support.js';

/** Records what discovery tells the engine. */
class RecordingSink implements SessionSink {
  readonly sessions = new Map<string, SessionSnapshot['status']>();
  readonly final = new Set<string>();
  onSession(session: SessionSnapshot): void {
    this.sessions.set(session.id, session.status);
  }
  hasActor(): boolean {
    return false;
  }
  onFinal(sessionId: string): void {
    this.final.add(sessionId);
  }
}

describe('SessionDiscovery at start (real NATS JetStream and ClickHouse 18.16)', () => {
  let infra: Infra;
  before(async () => {
    infra = await openInfra();
  });
  after(() => infra.close());

  it('checks the ended sessions kept in the stream for final results in batches, not one query each', async function () {
    this.timeout(120_000);
    const now = Date.now();
    const ended = Array.from({ length: FINAL_CHECK_BATCH + 200 }, () => randomUUID());
    const frozen = new Set(ended.filter((_, i) => i % 3 !== 0));
    const live = [randomUUID(), randomUUID()];
    for (const id of ended) await publishEvent(infra, 'ended', id, now - 3_600_000);
    for (const id of live) await publishEvent(infra, 'started', id, now);
    await infra.ch.insert({
      table: `${infra.db}.${ClickHouseTable.SESSION_RESULTS}`,
      values: [...frozen].map((session_id) => ({
        session_id,
        participants: 1,
        final: 1,
        updated_at: Math.floor(now / 1000),
        version: 1,
      })),
      format: 'JSONEachRow',
    });
    // The real store, counting its queries.
    const store = new ClickHouseStore(infra.ch, infra.db);
    const asked: number[] = [];
    const finalAmong = store.finalAmong.bind(store);
    store.finalAmong = (ids) => (asked.push(ids.length), finalAmong(ids));
    store.isFinal = () => Promise.reject(new Error('one query per session'));
    const sink = new RecordingSink();
    const discovery = new SessionDiscovery(infra.js, infra.names, sink, store, pino({ enabled: false }));
    await discovery.start();
    await discovery.stop();

    expect(asked.reduce((a, b) => a + b, 0)).to.equal(ended.length);
    expect(asked.length).to.be.at.most(Math.ceil(ended.length / FINAL_CHECK_BATCH) + 1);
    expect([...sink.final].sort()).to.deep.equal([...frozen].sort());
    const notFinal = ended.filter((id) => !frozen.has(id));
    expect(
      [...sink.sessions]
        .filter(([, status]) => status === 'ended')
        .map(([id]) => id)
        .sort(),
    ).to.deep.equal(notFinal.sort());
    for (const id of live) expect(sink.sessions.get(id)).to.equal('live');
  });
});
