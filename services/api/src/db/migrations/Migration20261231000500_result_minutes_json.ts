import { Migration } from '@mikro-orm/migrations';

/**
 * A frozen row's minute buckets as `json` (their text, checked once) instead of `jsonb` (issue 13). Nothing
 * queries inside them: the results answer and the personal-best curve read them whole. Building a jsonb value
 * per row was most of the freeze's insert for a long class: 10,000 rows of 30 buckets took 490–870 ms into a
 * jsonb column and 180–290 ms into a json one (one statement, the board as a bound JSON parameter). A rewrite
 * of the table, as the backfill of `session_type` was.
 */
export class Migration20261231000500_result_minutes_json extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table session_result alter column minutes drop default');
    this.addSql('alter table session_result alter column minutes type json using minutes::json');
    this.addSql(`alter table session_result alter column minutes set default '[]'::json`);
  }

  override async down(): Promise<void> {
    this.addSql('alter table session_result alter column minutes drop default');
    this.addSql('alter table session_result alter column minutes type jsonb using minutes::jsonb');
    this.addSql(`alter table session_result alter column minutes set default '[]'::jsonb`);
  }
}
