/* eslint-disable @typescript-eslint/no-explicit-any */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ASYNCAPI_FRAME_TYPES, CloseCode, ErrorCode } from '@pulse/contracts';
import { TestApi } from './harness.js';

/**
 * docs/API-CONTRACT.md is what client teams read; the OpenAPI and AsyncAPI documents are what the services
 * serve. This keeps the human-readable contract from drifting from them (issue 15): every REST operation,
 * frame type, close code and error code is in both, and nothing is in the doc that the services lack.
 */
const CONTRACT = readFileSync(new URL('../../../../docs/API-CONTRACT.md', import.meta.url), 'utf8');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('docs/API-CONTRACT.md against the served documents (issue 15)', () => {
  let api: TestApi;
  before(async () => {
    api = await TestApi.start();
  });
  after(() => api.close());

  it('lists exactly the REST operations of the OpenAPI document', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body as { paths: Record<string, any> };
    const served = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => METHODS.includes(m))
        .map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const documented = [...CONTRACT.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) (\/v1\/\S+) \|/gm)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    expect([...new Set(documented)].sort()).to.deep.equal([...new Set(served)].sort());
  });

  it('names every frame type of the AsyncAPI document', () => {
    for (const type of [...ASYNCAPI_FRAME_TYPES.client, ...ASYNCAPI_FRAME_TYPES.server]) {
      expect(CONTRACT, `frame ${type}`).to.match(new RegExp(`"type": "${type}"`));
    }
  });

  it('explains every close code in its table, and only those', () => {
    const documented = [...CONTRACT.matchAll(/^\| (\d{4}) \|/gm)].map((m) => Number(m[1]));
    expect([...new Set(documented)].sort()).to.deep.equal(Object.values(CloseCode).sort());
  });

  it('names every error code', () => {
    for (const code of Object.values(ErrorCode)) expect(CONTRACT, code).to.include(code);
  });
});
