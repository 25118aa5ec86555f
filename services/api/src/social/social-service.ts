import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { MAX_FOLLOWING, type FollowSet } from '@pulse/contracts';
import { z } from 'zod';
import { Role } from '../accounts/user.entity.js';
import { FollowLimitReached, NotFound, ValidationFailed } from '../errors.js';
import { recordFollowSet, type OutboxSignal } from '../outbox/outbox.js';
import { decodeCursor, encodeCursor, type Page } from '../pagination.js';
import { INSTANT_RANGE_MESSAGE, isStorableInstant } from '../timestamps.js';

/** One entry of a following or followers list. */
export interface FollowView {
  userId: string;
  name: string;
  /** When the follow began. */
  since: string;
}

/** Keyset of both lists: `created_at` with PostgreSQL's microseconds, then the other user's id. */
const FollowCursor = z.object({
  since: z.string().datetime().refine(isStorableInstant, INSTANT_RANGE_MESSAGE),
  userId: z.string().uuid(),
});

interface FollowRow {
  user_id: string;
  name: string;
  since: string;
  since_key: string;
}
const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** Which side of a follow a list shows. */
const SIDES = {
  following: { mine: 'follower_id', other: 'followee_id', index: 'follow_following_index' },
  followers: { mine: 'followee_id', other: 'follower_id', index: 'follow_followers_index' },
} as const;

/** Who follows whom among trainees (issue 16): the graph the personal boards rank. */
export class SocialService {
  constructor(
    private readonly orm: MikroORM,
    private readonly outbox: OutboxSignal,
  ) {}

  /**
   * `followerId` follows the trainee `followeeId`; again is a no-op. Oneself → 400, someone who is not a
   * trainee → 404, beyond MAX_FOLLOWING → 409. A follower's follows are serialised on their user row, so the
   * limit holds under concurrent requests.
   */
  async follow(followerId: string, followeeId: string): Promise<void> {
    refuseSelf(followerId, followeeId);
    await this.orm.em.fork().transactional(async (tx) => {
      const connection = tx.getConnection();
      await requireTrainee(tx, followeeId);
      await lockFollower(tx, followerId);
      const [{ following, already }] = await connection.execute<{ following: number; already: boolean }[]>(
        `select count(*)::int as following, bool_or(followee_id = ?::uuid) as already
           from follow where follower_id = ?::uuid`,
        [followeeId, followerId],
        'all',
        tx.getTransactionContext(),
      );
      if (already === true) return;
      if (following >= MAX_FOLLOWING) throw new FollowLimitReached(MAX_FOLLOWING);
      await connection.execute(
        'insert into follow (follower_id, followee_id) values (?::uuid, ?::uuid) on conflict do nothing',
        [followerId, followeeId],
        'run',
        tx.getTransactionContext(),
      );
      recordFollowSet(tx, followerId, await followSetOf(tx, followerId));
    });
    this.outbox.kick();
  }

  /** Stops following; not following already is a no-op. Oneself → 400, someone who is not a trainee → 404. */
  async unfollow(followerId: string, followeeId: string): Promise<void> {
    refuseSelf(followerId, followeeId);
    const changed = await this.orm.em.fork().transactional(async (tx) => {
      await requireTrainee(tx, followeeId);
      await lockFollower(tx, followerId);
      const deleted = await tx
        .getConnection()
        .execute<{ followee_id: string }[]>(
          'delete from follow where follower_id = ?::uuid and followee_id = ?::uuid returning followee_id',
          [followerId, followeeId],
          'all',
          tx.getTransactionContext(),
        );
      if (deleted.length === 0) return false;
      recordFollowSet(tx, followerId, await followSetOf(tx, followerId));
      return true;
    });
    if (changed) this.outbox.kick();
  }

  /** Whom `userId` follows (`following`) or who follows them (`followers`), newest first. */
  async list(
    userId: string,
    side: keyof typeof SIDES,
    page: { limit: number; cursor?: string },
  ): Promise<Page<FollowView>> {
    const { mine, other } = SIDES[side];
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, FollowCursor);
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<FollowRow[]>(
        `select f.${other} as user_id, u.name,
         to_char(f.created_at at time zone 'UTC', ${ISO_MS}) as since,
         to_char(f.created_at at time zone 'UTC', ${ISO_US}) as since_key
       from follow f join app_user u on u.id = f.${other}
       where f.${mine} = ?::uuid ${after ? `and (f.created_at, f.${other}) < (?::timestamptz, ?::uuid)` : ''}
       order by f.created_at desc, f.${other} desc limit ?`,
        after ? [userId, after.since, after.userId, page.limit + 1] : [userId, page.limit + 1],
      );
    const items = rows.slice(0, page.limit);
    const last = items.at(-1);
    return {
      items: items.map((r) => ({ userId: r.user_id, name: r.name, since: r.since })),
      nextCursor:
        rows.length > page.limit && last
          ? encodeCursor({ since: last.since_key, userId: last.user_id })
          : null,
    };
  }

  /** How many `userId` follows and how many follow them. */
  async counts(userId: string): Promise<{ followingCount: number; followersCount: number }> {
    const [row] = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ following: number; followers: number }[]>(
        `select (select count(*)::int from follow where follower_id = ?::uuid) as following,
              (select count(*)::int from follow where followee_id = ?::uuid) as followers`,
        [userId, userId],
      );
    return { followingCount: row.following, followersCount: row.followers };
  }
}

/** Someone who is not a trainee (or does not exist) cannot be followed: 404. */
async function requireTrainee(em: EntityManager, userId: string): Promise<void> {
  const found = await em
    .getConnection()
    .execute<{ role: string }[]>(
      'select role from app_user where id = ?::uuid',
      [userId],
      'all',
      em.getTransactionContext(),
    );
  if (found.length === 0 || found[0].role !== Role.TRAINEE) throw new NotFound('trainee', userId);
}

function refuseSelf(followerId: string, followeeId: string): void {
  if (followerId === followeeId) {
    throw new ValidationFailed('a trainee cannot follow themselves', { details: { field: 'id' } });
  }
}

/** A follower's follows change one request at a time (their user row is the lock). */
async function lockFollower(tx: EntityManager, followerId: string): Promise<void> {
  await tx
    .getConnection()
    .execute(
      'select id from app_user where id = ?::uuid for update',
      [followerId],
      'all',
      tx.getTransactionContext(),
    );
}

/** Whom the follower follows, oldest first, with names: the follows bucket's value (issue 16). */
async function followSetOf(tx: EntityManager, followerId: string): Promise<FollowSet> {
  const rows = await tx.getConnection().execute<{ user_id: string; name: string }[]>(
    `select f.followee_id as user_id, u.name from follow f join app_user u on u.id = f.followee_id
       where f.follower_id = ?::uuid order by f.created_at, f.followee_id`,
    [followerId],
    'all',
    tx.getTransactionContext(),
  );
  return { following: rows.map((r) => ({ userId: r.user_id, name: r.name })) };
}
