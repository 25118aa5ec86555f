import { Migration } from '@mikro-orm/migrations';

/**
 * A trainee's best of a session type in one index lookup (issue 16). Every join looked it up, and every freeze
 * compared each participant with it, by scanning all of the trainee's frozen rows joined to their sessions for
 * the type and sorting by score: a trainee with 1,000 classes cost a thousand-row scan per join, and a freeze of
 * 10,000 such trainees ten million. The frozen row now carries its session's type (fixed once the session is
 * frozen), and `session_result_best_index` orders a trainee's finished rows of a type by score, then by the
 * personal-best tie-break (earliest first): the best is the index's first entry.
 */
export class Migration20261231000400_personal_best_index extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table session_result add column session_type text null');
    this.addSql(`update session_result r set session_type = s.type
      from workout_session s where s.id = r.session_id`);
    this.addSql(`create index session_result_best_index
      on session_result (user_id, session_type, score desc, ended_at, session_id) where score is not null`);
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists session_result_best_index');
    this.addSql('alter table session_result drop column if exists session_type');
  }
}
