import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { expect } from 'chai';
import { CLICKHOUSE_ADDED_COLUMNS, ClickHouseTable, clickhouseSchema } from '@pulse/contracts';
import { ClickHouseStore } from '../../src/storage/clickhouse.js';
import { CLICKHOUSE_URL } from '../support.js';

describe('ClickHouse schema with columns added later (issue 16, real ClickHouse 18.16)', () => {
  const db = `t_cols_${randomUUID().slice(0, 8)}`;
  const ch = createClient({ url: CLICKHOUSE_URL });
  after(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await ch.close();
  });

  it('adds the columns existing tables lack, once, and old rows read their defaults', async () => {
    // The tables as an engine of the previous version created them: without the added columns.
    let old = clickhouseSchema(db);
    for (const c of CLICKHOUSE_ADDED_COLUMNS)
      old = old.map((sql) => sql.replace(`, ${c.column} ${c.type}`, ''));
    for (const query of old) await ch.command({ query });
    const sessionId = randomUUID();
    const userId = randomUUID();
    await ch.insert({
      table: `${db}.${ClickHouseTable.MINUTES}`,
      values: [
        {
          session_id: sessionId,
          user_id: userId,
          minute: 0,
          avg_energy: 1,
          max_energy: 1,
          samples: 1,
          version: 1,
        },
      ],
      format: 'JSONEachRow',
    });
    const columns = async () => {
      const rs = await ch.query({
        query: `SELECT table, name FROM system.columns WHERE database = '${db}' ORDER BY table, name`,
        format: 'JSONEachRow',
      });
      return (await rs.json<{ table: string; name: string }>()).map((c) => `${c.table}.${c.name}`);
    };
    for (const c of CLICKHOUSE_ADDED_COLUMNS)
      expect(await columns()).to.not.include(`${c.table}.${c.column}`);

    const store = new ClickHouseStore(ch, db);
    await store.applySchema();
    await store.applySchema(); // idempotent: nothing left to add
    for (const c of CLICKHOUSE_ADDED_COLUMNS) expect(await columns()).to.include(`${c.table}.${c.column}`);
    const rs = await ch.query({
      query: `SELECT sum_centi FROM ${db}.${ClickHouseTable.MINUTES} FINAL WHERE session_id = '${sessionId}'`,
      format: 'JSONEachRow',
    });
    expect((await rs.json<{ sum_centi: string | number }>()).map((r) => Number(r.sum_centi))).to.deep.equal([
      0,
    ]);
  });
});
