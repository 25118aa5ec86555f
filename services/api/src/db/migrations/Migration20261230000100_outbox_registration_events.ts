import { Migration } from '@mikro-orm/migrations';

/**
 * Registration changes go through the outbox too (issue 11: tickets stop working once the trainee
 * unregisters). Their rows name the trainee, whose subject they are published on.
 */
export class Migration20261230000100_outbox_registration_events extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table outbox_event add column user_id uuid null');
  }

  override async down(): Promise<void> {
    this.addSql('alter table outbox_event drop column user_id');
  }
}
