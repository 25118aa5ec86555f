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

  it('drives only the routes asked for with --routes, paced with --paced', async () => {
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
      '--rate',
      '40',
      '--paced',
      '--routes',
      'list,history',
    ]);
    expect(checksOf(report)).to.deep.equal([]);
    const table = report.tables[0];
    expect(table.title).to.include('40 req/s offered (paced, open loop)');
    expect(table.rows.map((r) => [r[0], r[1]])).to.deep.equal([
      ['GET /v1/sessions (upcoming)', 40],
      ['GET /v1/me/history', 40],
    ]);
    expect(table.columns).to.include('api waited for a CPU ms/req');
  });
});
