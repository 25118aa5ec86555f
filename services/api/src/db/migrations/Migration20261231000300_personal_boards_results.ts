import { Migration } from '@mikro-orm/migrations';

/**
 * Frozen results with personal boards (issue 16): each participant's age band and rank on it, their rank among
 * the people they followed who were in the class, and whether the class was a personal best of its type, all
 * computed once when the results freeze (ResultsFreezer) so a frozen answer never changes. Nullable columns
 * without defaults: a catalog change, no rewrite of the table, writes are not blocked. Sessions frozen before
 * this migration keep nulls (no band or following rank, `personalBest` false) and their minutes no exact sums.
 */
export class Migration20261231000300_personal_boards_results extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table session_result
      add column band text null,
      add column band_rank integer null,
      add column band_participants integer null,
      add column following_rank integer null,
      add column following_participants integer null,
      add column personal_best boolean null`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table session_result
      drop column if exists band, drop column if exists band_rank, drop column if exists band_participants,
      drop column if exists following_rank, drop column if exists following_participants,
      drop column if exists personal_best`);
  }
}
