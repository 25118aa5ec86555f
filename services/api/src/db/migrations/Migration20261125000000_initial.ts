import { Migration } from '@mikro-orm/migrations';

/** The first schema. Tables are unqualified: the connection's search_path selects DATABASE_SCHEMA. */
export class Migration20261125000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table app_user (
      id uuid primary key,
      email text not null constraint app_user_email_unique unique check (email = lower(email)),
      name text not null,
      role text not null check (role in ('trainee', 'trainer')),
      weight_kg double precision null check (weight_kg > 0),
      password_hash text not null,
      created_at timestamptz not null
    )`);
    this.addSql(`create table refresh_token (
      id uuid primary key,
      user_id uuid not null references app_user (id) on delete cascade,
      family_id uuid not null,
      token_hash text not null constraint refresh_token_token_hash_unique unique,
      expires_at timestamptz not null,
      rotated_at timestamptz null,
      revoked_at timestamptz null,
      created_at timestamptz not null
    )`);
    this.addSql(`create index refresh_token_family_id_index on refresh_token (family_id)`);
    this.addSql(`create table workout_session (
      id uuid primary key,
      trainer_id uuid not null references app_user (id),
      title text not null,
      description text null,
      type text not null,
      starts_at timestamptz not null,
      duration_minutes integer not null check (duration_minutes > 0),
      capacity integer not null check (capacity > 0),
      status text not null check (status in ('scheduled', 'live', 'ended', 'cancelled')),
      started_at timestamptz null,
      ended_at timestamptz null,
      cancelled_at timestamptz null,
      version integer not null default 1,
      created_at timestamptz not null
    )`);
    this.addSql(`create index workout_session_status_starts_at_id_index
      on workout_session (status, starts_at, id)`);
    this.addSql(`create index workout_session_trainer_id_starts_at_index
      on workout_session (trainer_id, starts_at)`);
    this.addSql(`create index workout_session_ended_at_index on workout_session (ended_at)`);
    this.addSql(`create table registration (
      id uuid primary key,
      session_id uuid not null references workout_session (id) on delete cascade,
      trainee_id uuid not null references app_user (id) on delete cascade,
      status text not null check (status in ('registered', 'waitlisted', 'cancelled')),
      queued_at timestamptz not null,
      joined_at timestamptz null,
      created_at timestamptz not null,
      constraint registration_session_id_trainee_id_unique unique (session_id, trainee_id)
    )`);
    this.addSql(`create index registration_session_id_status_queued_at_index
      on registration (session_id, status, queued_at)`);
    this.addSql(
      `create index registration_trainee_id_joined_at_index on registration (trainee_id, joined_at)`,
    );
    this.addSql(`create table feedback (
      id uuid primary key,
      session_id uuid not null references workout_session (id) on delete cascade,
      trainee_id uuid not null references app_user (id) on delete cascade,
      rating smallint not null check (rating between 1 and 5),
      comment text null,
      created_at timestamptz not null,
      constraint feedback_session_id_trainee_id_unique unique (session_id, trainee_id)
    )`);
    this.addSql(`create table outbox_event (
      id uuid primary key,
      session_id uuid not null,
      type text not null,
      payload jsonb not null,
      created_at timestamptz not null,
      published_at timestamptz null,
      attempts integer not null default 0
    )`);
    this.addSql(
      `create index outbox_event_pending_index on outbox_event (created_at) where published_at is null`,
    );
    this.addSql(
      `create index outbox_event_published_at_created_at_index on outbox_event (published_at, created_at)`,
    );
  }

  override async down(): Promise<void> {
    for (const table of ['outbox_event', 'feedback', 'registration', 'workout_session', 'refresh_token']) {
      this.addSql(`drop table if exists ${table}`);
    }
    this.addSql('drop table if exists app_user');
  }
}
