import { Migration } from '@mikro-orm/migrations';

/**
 * The outbox also carries follow sets (issue 16), which belong to no session: `session_id` becomes nullable
 * (a catalog change; no rewrite, writes are not blocked).
 */
export class Migration20261231000200_outbox_follows extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table outbox_event alter column session_id drop not null');
  }

  override async down(): Promise<void> {
    this.addSql("delete from outbox_event where type = 'follows'");
    this.addSql('alter table outbox_event alter column session_id set not null');
  }
}
