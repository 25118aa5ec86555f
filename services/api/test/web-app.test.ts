import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { TestApi } from './harness.js';

describe('the web app at /app/ (issue 15)', () => {
  let api: TestApi;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pulse-web-'));
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>Pulse app</title>');
    api = await TestApi.start({ WEB_APP_DIR: dir });
  });
  after(async () => {
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the built app at /app/ and redirects /app there', async () => {
    const page = await fetch(`${api.url}/app/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    expect(await page.text()).to.contain('<title>Pulse app</title>');
    const bare = await fetch(`${api.url}/app`, { redirect: 'manual' });
    expect(bare.status).to.equal(302);
    expect(bare.headers.get('location')).to.equal('/app/');
  });

  it('answers 404 with the error envelope for a missing file', async () => {
    const res = await api.call('GET', '/app/missing.js');
    expect(res.status).to.equal(404);
    expect(res.body.error.code).to.equal('NOT_FOUND');
  });

  it('serves nothing outside the build: a path climbing out is refused with the envelope', async () => {
    for (const target of ['/app/..%2Fpackage.json', '/app/%2e%2e/%2e%2e/package.json']) {
      const res = await api.call('GET', target);
      expect([400, 404], `${target}: ${JSON.stringify(res.body)}`).to.include(res.status);
      expect(['VALIDATION_FAILED', 'NOT_FOUND'], target).to.include(res.body.error.code);
    }
  });
});
