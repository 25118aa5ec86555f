import { Migration } from '@mikro-orm/migrations';

/**
 * Frozen results (issue 13). An ended session's results never change, so they are copied once from
 * ClickHouse into two tables that answer a participant's request with index lookups:
 *
 * - `session_result_freeze`: one row per frozen session, written in the same transaction as its
 *   `session_result` rows. Readers look for it first: no row, no board (never a partial one).
 * - `session_result`: one row per participant (rank, numbers, per-minute energy as compact tuples) and one
 *   per trainee who joined without ever reaching the board (rank and numbers null, for the history).
 *
 * Only new tables and their indexes: nothing here locks or rewrites an existing table, so the migration
 * never blocks writes. No foreign keys to `workout_session` for the same reason (adding one takes a lock on
 * the referenced table); the rows are only ever written for a session read a moment before.
 */
export class Migration20261231000000_frozen_results extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table session_result_freeze (
      session_id uuid primary key,
      participants integer not null,
      session jsonb not null,
      ended_at timestamptz not null,
      frozen_at timestamptz not null default now()
    )`);
    this.addSql(`create table session_result (
      session_id uuid not null,
      user_id uuid not null,
      rank integer null,
      name text not null,
      score double precision null,
      calories double precision null,
      avg_energy double precision null,
      samples integer null,
      minutes jsonb not null default '[]',
      ended_at timestamptz not null,
      primary key (session_id, user_id)
    )`);
    // The board in rank order, one page an index range; unique: a rank belongs to one participant.
    this.addSql('create unique index session_result_rank_index on session_result (session_id, rank)');
    // History: a trainee's sessions newest first, keyset (ended_at, session_id) < cursor.
    this.addSql(
      'create index session_result_history_index on session_result (user_id, ended_at desc, session_id desc)',
    );
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists session_result');
    this.addSql('drop table if exists session_result_freeze');
  }
}
