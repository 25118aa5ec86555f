import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildWebServer } from '../src/server/app.js';
import { DEFAULT_WEB_PORT, loadConfig } from '../src/server/config.js';
import { loadStaticFiles } from '../src/server/static-files.js';

describe('the web app server (k8s Deployment web)', () => {
  let dir: string;
  let server: Server;
  let base: string;
  const readiness = { draining: false };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pulse-web-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>Pulse</title>');
    writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(path.join(tmpdir(), 'pulse-web-secret.txt'), 'secret');
    server = createServer(buildWebServer({ files: loadStaticFiles(dir), readiness }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.join(tmpdir(), 'pulse-web-secret.txt'), { force: true });
  });

  it('serves the single page at /app/ revalidated, and hashed assets as immutable', async () => {
    const page = await fetch(`${base}/app/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).to.equal('no-cache');
    expect(page.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(await page.text()).to.equal('<!doctype html><title>Pulse</title>');
    const js = await fetch(`${base}/app/assets/index-abc123.js`);
    expect(js.status).to.equal(200);
    expect(js.headers.get('content-type')).to.equal('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).to.equal('public, max-age=31536000, immutable');
    const head = await fetch(`${base}/app/index.html`, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.headers.get('content-length')).to.equal('35');
  });

  it('redirects /app to /app/ and answers 404 outside the build, 405 to anything but GET and HEAD', async () => {
    const redirect = await fetch(`${base}/app`, { redirect: 'manual' });
    expect(redirect.status).to.equal(301);
    expect(redirect.headers.get('location')).to.equal('/app/');
    for (const p of [
      '/',
      '/index.html',
      '/app/nope.js',
      '/app/%2e%2e/pulse-web-secret.txt',
      '/app/%E0%A4%A',
    ]) {
      expect((await fetch(`${base}${p}`)).status, p).to.equal(404);
    }
    expect((await fetch(`${base}/app/`, { method: 'POST' })).status).to.equal(405);
  });

  it('answers /healthz, and /readyz in the shape of every Pulse service, 503 while draining', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).to.deep.equal({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.equal({
      status: 'ready',
      checks: { build: 'up' },
      down: [],
      degraded: [],
      details: { files: 2 },
    });
    readiness.draining = true;
    try {
      const draining = await fetch(`${base}/readyz`);
      expect(draining.status).to.equal(503);
      expect((await draining.json()).status).to.equal('draining');
    } finally {
      readiness.draining = false;
    }
  });

  it('is unready without a build', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'pulse-web-empty-'));
    const listener = buildWebServer({ files: loadStaticFiles(empty), readiness: { draining: false } });
    const other = createServer(listener);
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(other.address() as AddressInfo).port}/readyz`);
      expect(res.status).to.equal(503);
      expect((await res.json()).down).to.deep.equal(['build']);
    } finally {
      other.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('reads its port and directory once, naming a bad variable', () => {
    expect(loadConfig({}).WEB_PORT).to.equal(DEFAULT_WEB_PORT);
    expect(loadConfig({}).WEB_APP_DIR).to.match(/web\/dist\/app$/);
    expect(() => loadConfig({ WEB_PORT: 'eighty' })).to.throw('WEB_PORT="eighty" is not valid');
    expect(() => loadConfig({ WEB_PORT: '70000' })).to.throw(/WEB_PORT/);
  });
});
