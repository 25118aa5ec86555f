import { expect } from 'chai';
import { clickhouseSchema } from '../src/clickhouse.js';

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
