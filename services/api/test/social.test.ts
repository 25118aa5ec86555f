/* eslint-disable @typescript-eslint/no-explicit-any -- replies are untyped JSON */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Kvm } from '@nats-io/kv';
import { FollowSet, MAX_FOLLOWING } from '@pulse/contracts';
import { TestApi } from './harness.js';
import type { TestUser } from './harness.js';

describe('profiles and follows (issue 16, real PostgreSQL)', () => {
  let api: TestApi;
  let ana: TestUser;
  let bo: TestUser;
  before(async () => {
    api = await TestApi.start();
  });
  beforeEach(async () => {
    [ana, bo] = await Promise.all([
      api.user('trainee', `ana-${randomUUID().slice(0, 6)}`),
      api.user('trainee'),
    ]);
  });
  after(() => api.close());

  const me = async (u: TestUser) => (await api.call('GET', '/v1/me', { token: u.token })).body;
  const follow = (u: TestUser, id: string) => api.call('PUT', `/v1/users/${id}/follow`, { token: u.token });
  const list = async (u: TestUser, side: 'following' | 'followers', query = '') =>
    (await api.call('GET', `/v1/me/${side}${query}`, { token: u.token })).body;

  it('keeps birth year and gender optional and private, with the board opt-in off by default', async () => {
    expect(await me(ana)).to.deep.include({
      birthYear: null,
      gender: null,
      showOnBoards: false,
      followingCount: 0,
      followersCount: 0,
    });
    const changed = await api.call('PATCH', '/v1/me', {
      token: ana.token,
      body: { birthYear: 1990, gender: 'female', showOnBoards: true, weightKg: 61.5 },
    });
    expect(changed.status).to.equal(200);
    expect(changed.body).to.deep.include({
      birthYear: 1990,
      gender: 'female',
      showOnBoards: true,
      weightKg: 61.5,
    });
    const cleared = await api.call('PATCH', '/v1/me', { token: ana.token, body: { gender: null } });
    expect(cleared.body).to.deep.include({ birthYear: 1990, gender: null, showOnBoards: true });
  });

  it('refuses profile values out of range with 400 VALIDATION_FAILED', async () => {
    const thisYear = new Date().getUTCFullYear();
    for (const body of [
      { birthYear: 1899 },
      { birthYear: thisYear - 12 },
      { birthYear: 1990.5 },
      { gender: 'robot' },
      { showOnBoards: 'yes' },
      { name: '' },
      { email: 'new@example.test' },
    ]) {
      const res = await api.call('PATCH', '/v1/me', { token: ana.token, body });
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.error.code).to.equal('VALIDATION_FAILED');
    }
  });

  it('follows and unfollows idempotently, and both lists show it', async () => {
    expect((await follow(ana, bo.id)).status).to.equal(204);
    expect((await follow(ana, bo.id)).status).to.equal(204);
    expect((await list(ana, 'following')).items.map((i: any) => [i.userId, i.name])).to.deep.equal([
      [bo.id, bo.name],
    ]);
    expect((await list(bo, 'followers')).items.map((i: any) => i.userId)).to.deep.equal([ana.id]);
    expect(await me(ana)).to.deep.include({ followingCount: 1, followersCount: 0 });
    expect(await me(bo)).to.deep.include({ followingCount: 0, followersCount: 1 });
    const unfollow = () => api.call('DELETE', `/v1/users/${bo.id}/follow`, { token: ana.token });
    expect((await unfollow()).status).to.equal(204);
    expect((await unfollow()).status).to.equal(204);
    expect((await list(ana, 'following')).items).to.deep.equal([]);
  });

  it('publishes whom a trainee follows to the follows bucket after every change, in order (issue 16)', async () => {
    const kv = await new Kvm(api.nats).open(api.names.followsBucket);
    const valueOf = async (userId: string) => {
      const entry = await kv.get(userId);
      return entry === null ? undefined : FollowSet.parse(entry.json());
    };
    const settle = async (expected: unknown) => {
      for (let i = 0; i < 100; i++) {
        const value = await valueOf(ana.id);
        if (JSON.stringify(value) === JSON.stringify(expected)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await valueOf(ana.id)).to.deep.equal(expected);
    };
    const cy = await api.user('trainee');
    await follow(ana, bo.id);
    await follow(ana, cy.id);
    await follow(ana, cy.id); // no change: nothing new to publish
    await settle({
      following: [
        { userId: bo.id, name: bo.name },
        { userId: cy.id, name: cy.name },
      ],
    });
    const unfollowed = await api.call('DELETE', `/v1/users/${bo.id}/follow`, { token: ana.token });
    expect(unfollowed.status, JSON.stringify(unfollowed.body)).to.equal(204);
    await settle({ following: [{ userId: cy.id, name: cy.name }] });
    expect(await valueOf(bo.id)).to.equal(undefined); // bo follows no one
  });

  it('refuses to follow oneself (400), a trainer or an unknown user (404), and lets only trainees follow (403)', async () => {
    const trainer = await api.user('trainer');
    expect((await follow(ana, ana.id)).status).to.equal(400);
    expect((await follow(ana, trainer.id)).body.error.code).to.equal('NOT_FOUND');
    expect((await follow(ana, randomUUID())).status).to.equal(404);
    expect((await follow(trainer, ana.id)).status).to.equal(403);
    expect((await follow(ana, 'not-a-uuid')).status).to.equal(400);
  });

  it('pages both lists newest first without skipping or repeating anyone', async () => {
    const others = await Promise.all(Array.from({ length: 7 }, () => api.user('trainee')));
    for (const o of others) expect((await follow(ana, o.id)).status).to.equal(204);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await list(ana, 'following', `?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.items.length).to.be.at.most(3);
      seen.push(...page.items.map((i: any) => i.userId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).to.deep.equal(others.map((o) => o.id).reverse());
    const bad = await api.call('GET', '/v1/me/following?cursor=nonsense', { token: ana.token });
    expect(bad.status).to.equal(400);
  });

  it(`holds the limit of ${MAX_FOLLOWING} follows under concurrent requests (409 CONFLICT beyond it)`, async () => {
    // Fill up to one below the limit directly, then race two follows for the last place.
    await api.orm.em
      .fork()
      .getConnection()
      .execute(
        `with fillers as (
           insert into app_user (id, email, name, role, password_hash, created_at, show_on_boards)
           select gen_random_uuid(), 'filler-' || gen_random_uuid() || '@example.test', 'Filler', 'trainee', 'x',
             now(), false
           from generate_series(1, ?) returning id)
         insert into follow (follower_id, followee_id) select ?::uuid, id from fillers`,
        [MAX_FOLLOWING - 1, ana.id],
      );
    const [a, b] = await Promise.all([api.user('trainee'), api.user('trainee')]);
    const statuses = (await Promise.all([follow(ana, a.id), follow(ana, b.id)])).map((r) => r.status).sort();
    expect(statuses).to.deep.equal([204, 409]);
    expect(await me(ana)).to.deep.include({ followingCount: MAX_FOLLOWING });
  });
});
