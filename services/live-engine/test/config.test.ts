import { expect } from 'chai';
import { InvalidConfig } from '@pulse/runtime';
import { loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('defaults to the local stack and the documented cadences', () => {
    const c = loadConfig({ ENGINE_ID: 'e1' });
    expect([c.ENGINE_PORT, c.NATS_URL, c.NATS_NAMESPACE, c.CLICKHOUSE_URL, c.CLICKHOUSE_DB]).to.deep.equal([
      8090,
      'nats://127.0.0.1:4222',
      'pulse',
      'http://127.0.0.1:8123',
      'pulse',
    ]);
    expect([
      c.RANK_TICK_MS,
      c.MINUTE_MS,
      c.RESULTS_FLUSH_MS,
      c.CH_BATCH_MAX_ROWS,
      c.CH_FLUSH_MS,
    ]).to.deep.equal([100, 60_000, 5_000, 10_000, 2_000]);
  });

  it('names the variable of a bad value', () => {
    expect(() => loadConfig({ RANK_TICK_MS: 'fast' }))
      .to.throw(InvalidConfig, /RANK_TICK_MS/)
      .with.property('variables')
      .that.deep.equals(['RANK_TICK_MS']);
    expect(() => loadConfig({ CLICKHOUSE_DB: 'drop table;' })).to.throw(InvalidConfig, /CLICKHOUSE_DB/);
  });

  it('reads the stream replicas it applies on start, like the API (production: 3)', () => {
    expect(loadConfig({ ENGINE_ID: 'e1' }).NATS_STREAM_REPLICAS).to.equal(1);
    expect(loadConfig({ ENGINE_ID: 'e1', NATS_STREAM_REPLICAS: '3' }).NATS_STREAM_REPLICAS).to.equal(3);
    expect(() => loadConfig({ NATS_STREAM_REPLICAS: '0' })).to.throw(InvalidConfig, /NATS_STREAM_REPLICAS/);
  });

  it('checkpoints every 10 s by default; 0 turns checkpoints off (issue 14)', () => {
    expect(loadConfig({ ENGINE_ID: 'e1' }).CHECKPOINT_INTERVAL_MS).to.equal(10_000);
    expect(loadConfig({ ENGINE_ID: 'e1', CHECKPOINT_INTERVAL_MS: '0' }).CHECKPOINT_INTERVAL_MS).to.equal(0);
    expect(() => loadConfig({ CHECKPOINT_INTERVAL_MS: '5' })).to.throw(
      InvalidConfig,
      /CHECKPOINT_INTERVAL_MS/,
    );
  });
});
