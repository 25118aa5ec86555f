import { Migration } from '@mikro-orm/migrations';

/** `GET /v1/sessions/:id/feedback` pages newest first, keyset on (created_at, id): an ordered index scan. */
export class Migration20261230000000_feedback_keyset extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'create index feedback_session_created_index on feedback (session_id, created_at desc, id desc)',
    );
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists feedback_session_created_index');
  }
}
