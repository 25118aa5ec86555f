import { expect } from 'chai';
import { describeE2e } from './e2e/fixture.js';
import { checksOf, smokeRun } from './smoke.js';

describeE2e('npm run bench -- api', function () {
  this.timeout(300_000);

  it('drives every route with autocannon and gets only 2xx answers', async () => {
    const report = await smokeRun([
      'api',
      '--seed-sessions',
      '30',
      '--participants',
      '4',
      '--duration',
      '1s',
      '--connections',
      '2',
      '--seed-history',
      '50',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    expect(report.tables[0].rows.map((r) => r[0])).to.deep.equal([
      'GET /v1/sessions (upcoming)',
      'GET /v1/sessions/:id',
      'POST /v1/sessions/:id/registrations',
      'POST /v1/sessions/:id/join',
      'GET /v1/sessions/:id/results',
      'GET /v1/me/history',
      'POST /v1/auth/login',
    ]);
  });
});
