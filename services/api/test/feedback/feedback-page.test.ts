/* eslint-disable @typescript-eslint/no-explicit-any */
import { expect } from 'chai';
import { TestApi } from '../harness.js';
import type { TestUser } from '../harness.js';

const TRAINEES = 25;

describe('the trainer’s feedback list (issue 11)', () => {
  let api: TestApi;
  let coach: TestUser;
  let sessionId: string;
  let ratings: Map<string, number>;

  before(async () => {
    api = await TestApi.start();
    coach = await api.user('trainer');
    sessionId = (await api.session(coach, { capacity: TRAINEES })).id;
    const trainees = await Promise.all(Array.from({ length: TRAINEES }, () => api.user('trainee')));
    for (const t of trainees) {
      await api.call('POST', `/v1/sessions/${sessionId}/registrations`, { token: t.token });
      await api.call('POST', `/v1/sessions/${sessionId}/join`, { token: t.token });
    }
    await api.call('POST', `/v1/sessions/${sessionId}/start`, { token: coach.token });
    await api.call('POST', `/v1/sessions/${sessionId}/end`, { token: coach.token });
    ratings = new Map();
    // All at once, so several share a created_at millisecond and only the id breaks the tie.
    await Promise.all(
      trainees.map(async (t, i) => {
        const rating = (i % 5) + 1;
        const res = await api.call('POST', `/v1/sessions/${sessionId}/feedback`, {
          token: t.token,
          body: { rating },
        });
        expect(res.status).to.equal(201);
        ratings.set(res.body.id, rating);
      }),
    );
  });
  after(() => api.close());

  const page = (query: string) =>
    api.call('GET', `/v1/sessions/${sessionId}/feedback${query}`, { token: coach.token });

  it('pages newest first with limit and cursor; average and count cover every feedback', async () => {
    const seen: any[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await page(`?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.count).to.equal(TRAINEES);
      expect(res.body.average).to.equal(3);
      sizes.push(res.body.items.length);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    expect(sizes).to.deep.equal([10, 10, 5]);
    expect(new Set(seen.map((f) => f.id)).size).to.equal(TRAINEES);
    expect(seen.every((f) => ratings.get(f.id) === f.rating)).to.equal(true);
    const keys = seen.map((f) => `${f.createdAt} ${f.id}`);
    const newestFirst = [...keys].sort((a, b) => {
      const [ta, ia] = a.split(' ');
      const [tb, ib] = b.split(' ');
      return tb.localeCompare(ta) || ib.localeCompare(ia);
    });
    expect(keys).to.deep.equal(newestFirst);
  });

  it('defaults to 20 items and refuses a bad limit or cursor with 400', async () => {
    const first = await page('');
    expect(first.status).to.equal(200);
    expect(first.body.items).to.have.length(20);
    expect(first.body.nextCursor).to.be.a('string');
    for (const q of ['?limit=0', '?limit=101', '?cursor=nope', '?unknown=1']) {
      const res = await page(q);
      expect(res.status, q).to.equal(400);
      expect(res.body.error.code).to.equal('VALIDATION_FAILED');
    }
  });
});
