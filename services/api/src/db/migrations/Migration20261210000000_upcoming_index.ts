import { Migration } from '@mikro-orm/migrations';

/**
 * `GET /v1/sessions` lists scheduled and live sessions soonest first. With `status in (…two values…)`
 * the (status, starts_at, id) index cannot give rows in starts_at order, so every upcoming session was
 * fetched and sorted for each page. This partial index matches the default filter and the order: the
 * page is an ordered index scan that stops after `limit` rows (keyset: `(starts_at, id) > cursor`).
 */
export class Migration20261210000000_upcoming_index extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index workout_session_upcoming_index
      on workout_session (starts_at, id) where status in ('scheduled', 'live')`);
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists workout_session_upcoming_index');
  }
}
