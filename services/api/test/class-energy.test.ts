import { expect } from 'chai';
import { ClickHouseTable } from '@pulse/contracts';
import type { MinuteRow } from '@pulse/contracts';
import { energyBucketOf, energyBuckets } from '../src/class-energy/class-energy.js';
import { TestApi } from './harness.js';
import type { TestUser } from './harness.js';

describe('class energy buckets', () => {
  for (const [energy, bucket] of [
    [0, 0],
    [9.99, 0],
    [10, 1],
    [55, 5],
    [99.99, 9],
    [100, 9],
  ] as const) {
    it(`puts energy ${energy} in bucket ${bucket}`, () => expect(energyBucketOf(energy)).to.equal(bucket));
  }

  it('lists all ten buckets in order, zero where nobody is, summing repeated buckets', () => {
    const buckets = energyBuckets([
      { bucket: 9, participants: 2 },
      { bucket: 3, participants: 1 },
      { bucket: 3, participants: 4 },
    ]);
    expect(buckets.map((b) => b.participants)).to.deep.equal([0, 0, 0, 5, 0, 0, 0, 0, 0, 2]);
    expect(buckets[0]).to.deep.equal({ from: 0, to: 10, participants: 0 });
    expect(buckets[9]).to.deep.equal({ from: 90, to: 100, participants: 2 });
  });
});

describe('GET /v1/sessions/:id/class-energy (issue 15: the trainer’s live view)', () => {
  let api: TestApi;
  let coach: TestUser;
  let other: TestUser;
  let ann: TestUser;
  let bob: TestUser;
  let cid: TestUser;
  before(async () => {
    api = await TestApi.start();
    [coach, other, ann, bob, cid] = await Promise.all([
      api.user('trainer'),
      api.user('trainer'),
      api.user('trainee', 'Ann'),
      api.user('trainee', 'Bob'),
      api.user('trainee', 'Cid'),
    ]);
  });
  after(() => api.close());

  const row = (sessionId: string, u: TestUser, over: Partial<MinuteRow>): MinuteRow => ({
    session_id: sessionId,
    user_id: u.id,
    minute: 0,
    avg_energy: 0,
    max_energy: 0,
    samples: 60,
    version: 1,
    sum_centi: 0,
    ...over,
  });

  async function liveSession() {
    const s = await api.session(coach);
    const started = await api.call('POST', `/v1/sessions/${s.id}/start`, { token: coach.token });
    expect(started.status).to.equal(200);
    return s.id as string;
  }

  it('answers the per-minute class average and the latest minute’s distribution to the owning trainer', async () => {
    const id = await liveSession();
    await api.clickhouse.insert({
      table: `${api.config.CLICKHOUSE_DB}.${ClickHouseTable.MINUTES}`,
      format: 'JSONEachRow',
      values: [
        // Minute 0: Ann 40 over 60 readings, Bob 70 over 30 -> (2400 + 2100) / 90 = 50.
        row(id, ann, { minute: 0, avg_energy: 40, samples: 60 }),
        row(id, bob, { minute: 0, avg_energy: 70, samples: 30 }),
        // Minute 1 (the latest, in progress): an older flush of Ann's, replaced by version 2 (FINAL).
        row(id, ann, { minute: 1, avg_energy: 12, samples: 5, version: 1 }),
        row(id, ann, { minute: 1, avg_energy: 35, samples: 20, version: 2 }),
        row(id, bob, { minute: 1, avg_energy: 100, samples: 10 }),
        row(id, cid, { minute: 1, avg_energy: 38.5, samples: 10 }),
      ],
    });
    const res = await api.call('GET', `/v1/sessions/${id}/class-energy`, { token: coach.token });
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    expect(res.body.minutes).to.deep.equal([
      { minute: 0, avgEnergy: 50, participants: 2, samples: 90 },
      { minute: 1, avgEnergy: (35 * 20 + 100 * 10 + 38.5 * 10) / 40, participants: 3, samples: 40 },
    ]);
    expect(res.body.distribution.minute).to.equal(1);
    expect(res.body.distribution.bucketWidth).to.equal(10);
    expect(res.body.distribution.buckets.map((b: { participants: number }) => b.participants)).to.deep.equal([
      0, 0, 0, 2, 0, 0, 0, 0, 0, 1,
    ]);
  });

  it('answers an empty class before the first reading', async () => {
    const id = await liveSession();
    const res = await api.call('GET', `/v1/sessions/${id}/class-energy`, { token: coach.token });
    expect(res.status).to.equal(200);
    expect(res.body.minutes).to.deep.equal([]);
    expect(res.body.distribution.minute).to.equal(null);
    expect(res.body.distribution.buckets).to.have.length(10);
  });

  it('refuses another trainer (403), a trainee (403) and an unknown session (404)', async () => {
    const id = await liveSession();
    for (const [token, status, code] of [
      [other.token, 403, 'FORBIDDEN'],
      [ann.token, 403, 'FORBIDDEN'],
    ] as const) {
      const res = await api.call('GET', `/v1/sessions/${id}/class-energy`, { token });
      expect(res.status).to.equal(status);
      expect(res.body.error.code).to.equal(code);
    }
    const missing = await api.call('GET', `/v1/sessions/${crypto.randomUUID()}/class-energy`, {
      token: coach.token,
    });
    expect(missing.status).to.equal(404);
    expect(missing.body.error.code).to.equal('NOT_FOUND');
  });
});
