import { expect } from 'chai';
import {
  CLICKHOUSE_ADDED_COLUMNS,
  addColumnStatements,
  addedColumnsQuery,
  clickhouseSchema,
} from '../src/clickhouse.js';

describe('clickhouseSchema', () => {
  it('is the single-server DDL without a cluster', () => {
    const ddl = clickhouseSchema('pulse');
    expect(ddl[0]).to.equal('CREATE DATABASE IF NOT EXISTS pulse');
    expect(ddl.slice(1).every((sql) => /ENGINE = ReplacingMergeTree\(/.test(sql))).to.equal(true);
    expect(ddl.join('\n')).to.not.match(/ON CLUSTER|Replicated/);
  });

  it('creates every table ON CLUSTER with its Replicated engine keyed by shard and replica (issue 14)', () => {
    const ddl = clickhouseSchema('pulse', 'pulse');
    expect(ddl[0]).to.equal('CREATE DATABASE IF NOT EXISTS pulse ON CLUSTER pulse');
    for (const sql of ddl.slice(1)) {
      const [, table] = /CREATE TABLE IF NOT EXISTS pulse\.(\w+) ON CLUSTER pulse \(/.exec(sql) ?? [];
      expect(table, sql).to.be.a('string');
      expect(sql).to.match(
        new RegExp(
          `ENGINE = ReplicatedReplacingMergeTree\\('/clickhouse/tables/\\{shard\\}/pulse/${table}', '\\{replica\\}'`,
        ),
      );
    }
    expect(ddl.find((sql) => sql.includes('standings'))).to.match(/'\{replica\}', version\)/);
    expect(ddl.find((sql) => sql.includes('.ratings '))).to.match(/'\{replica\}'\) PARTITION BY/);
  });

  it('refuses names that are not identifiers', () => {
    expect(() => clickhouseSchema('pulse', 'x; drop')).to.throw(/cluster name/);
  });
});

describe('columns added after the tables were created (issue 16)', () => {
  it('adds only the columns a table lacks, in order, ON CLUSTER with a cluster', () => {
    expect(addColumnStatements('pulse', [])).to.deep.equal([
      'ALTER TABLE pulse.standings ADD COLUMN band String',
      'ALTER TABLE pulse.minutes ADD COLUMN sum_centi UInt64',
    ]);
    expect(addColumnStatements('pulse', [{ table: 'standings', name: 'band' }], 'c1')).to.deep.equal([
      'ALTER TABLE pulse.minutes ON CLUSTER c1 ADD COLUMN sum_centi UInt64',
    ]);
    const all = CLICKHOUSE_ADDED_COLUMNS.map((c) => ({ table: c.table, name: c.column }));
    expect(addColumnStatements('pulse', all)).to.deep.equal([]);
  });

  it('creates new tables with every added column already', () => {
    const ddl = clickhouseSchema('pulse').join('\n');
    for (const c of CLICKHOUSE_ADDED_COLUMNS) expect(ddl).to.match(new RegExp(`\\b${c.column} ${c.type}\\b`));
    expect(addedColumnsQuery('pulse')).to.equal(
      "SELECT table, name FROM system.columns WHERE database = 'pulse' AND name IN ('band', 'sum_centi')",
    );
    expect(() => addedColumnsQuery("x'")).to.throw(/not allowed/);
  });
});
