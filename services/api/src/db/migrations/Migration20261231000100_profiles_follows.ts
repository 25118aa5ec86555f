import { Migration } from '@mikro-orm/migrations';

/**
 * Personal boards (issue 16): optional birth year and gender on the profile, shown on no board unless the
 * trainee opts in (`show_on_boards`), and who follows whom. Adding nullable columns and a constant default is
 * a catalog change in PostgreSQL 11+: no table rewrite, writes are not blocked.
 */
export class Migration20261231000100_profiles_follows extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table app_user
      add column birth_year smallint null,
      add column gender text null,
      add column show_on_boards boolean not null default false`);
    this.addSql(`create table follow (
      follower_id uuid not null references app_user (id) on delete cascade,
      followee_id uuid not null references app_user (id) on delete cascade,
      created_at timestamptz not null default now(),
      primary key (follower_id, followee_id),
      constraint follow_not_self check (follower_id <> followee_id))`);
    // Both lists page newest first with a keyset on (created_at, other id): ordered index scans.
    this.addSql(
      'create index follow_following_index on follow (follower_id, created_at desc, followee_id desc)',
    );
    this.addSql(
      'create index follow_followers_index on follow (followee_id, created_at desc, follower_id desc)',
    );
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists follow');
    this.addSql(
      'alter table app_user drop column birth_year, drop column gender, drop column show_on_boards',
    );
  }
}
