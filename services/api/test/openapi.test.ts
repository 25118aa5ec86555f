/* eslint-disable @typescript-eslint/no-explicit-any */
import { expect } from 'chai';
import { Parser } from '@asyncapi/parser';
import SwaggerParser from '@apidevtools/swagger-parser';
import type Router from '@koa/router';
import { pino } from 'pino';
import { ErrorCode, HttpStatus } from '@pulse/contracts';
import { buildApi, ROUTE_CLASSES } from '../src/app.js';
import { TestApi } from './harness.js';

interface DecoratedRoute {
  method: string;
  path: string;
  hasBody: boolean;
  hasParams: boolean;
  hasQuery: boolean;
}

/** What the route classes declare through their decorators. */
function decoratedRoutes(): DecoratedRoute[] {
  return ROUTE_CLASSES.flatMap((cls) =>
    Object.getOwnPropertyNames(cls.prototype)
      .map((name) => (cls.prototype as any)[name])
      .filter((fn) => typeof fn === 'function' && fn.routeConfig)
      .map((fn) => ({
        method: fn.routeConfig.method,
        path: fn.routeConfig.path,
        hasBody: fn.bodySchema !== undefined,
        hasParams: fn.routeConfig.request?.params !== undefined,
        hasQuery: fn.routeConfig.request?.query !== undefined,
      })),
  );
}

/** Every /v1 route actually mounted on the Koa app, from the routers' layers. */
function mountedRoutes(app: ReturnType<typeof buildApi>): string[] {
  const routers = app.middleware
    .map((mw: any) => mw.router as Router | undefined)
    .filter((r) => r !== undefined);
  return routers.flatMap((router) =>
    router!.stack
      .filter((layer) => String(layer.path).startsWith('/v1'))
      .flatMap((layer) =>
        layer.methods
          .filter((m) => m !== 'HEAD')
          .map((m) => `${m.toLowerCase()} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`),
      ),
  );
}

describe('the OpenAPI document', () => {
  let api: TestApi;
  let doc: any;
  before(async () => {
    api = await TestApi.start();
    const res = await api.call('GET', '/openapi.json');
    expect(res.status).to.equal(200);
    doc = res.body;
  });
  after(() => api.close());

  it('is a valid OpenAPI 3 document', async () => {
    const validated: any = await SwaggerParser.validate(structuredClone(doc));
    expect(validated.openapi).to.match(/^3\./);
  });

  it('documents every mounted route, and nothing that is not mounted', () => {
    const app = buildApi({
      config: api.config,
      logger: pino({ level: 'silent' }),
      orm: api.orm,
      nats: api.nats,
      redis: api.redis,
      clickhouse: api.clickhouse,
      outbox: api.outbox,
    });
    const mounted = mountedRoutes(app).sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([p, ops]: [string, any]) => Object.keys(ops).map((m) => `${m} ${p}`))
      .sort();
    expect(mounted).to.have.length(25);
    expect(documented).to.deep.equal(mounted);
  });

  for (const route of decoratedRoutes()) {
    it(`documents ${route.method.toUpperCase()} ${route.path} with its request, responses and error envelope`, () => {
      const op = doc.paths[route.path][route.method];
      expect(op.summary).to.be.a('string').and.not.equal('');
      const pathParams = (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name);
      const expectedParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(pathParams).to.deep.equal(expectedParams);
      if (route.hasQuery) expect(op.parameters.filter((p: any) => p.in === 'query')).to.not.be.empty;
      if (route.hasBody) {
        const ref = op.requestBody.content['application/json'].schema.$ref;
        expect(doc.components.schemas[ref.split('/').pop()].type).to.equal('object');
      } else expect(op.requestBody).to.equal(undefined);
      const statuses = Object.keys(op.responses).map(Number);
      const successes = statuses.filter((s) => s < 300);
      expect(successes).to.have.length.greaterThan(0);
      for (const s of successes) expect(op.responses[s].description).to.not.equal('成功响应');
      const errors = statuses.filter((s) => s >= 400);
      expect(errors).to.include.members([HttpStatus[ErrorCode.INTERNAL], HttpStatus[ErrorCode.UNAVAILABLE]]);
      if (
        route.path !== '/v1/auth/register' &&
        route.path !== '/v1/auth/login' &&
        route.path !== '/v1/auth/refresh'
      ) {
        expect(errors).to.include(401);
        expect(op.security).to.deep.equal([{ bearerAuth: [] }]);
      }
      if (route.hasBody || route.hasParams || route.hasQuery) expect(errors).to.include(400);
      for (const s of errors) {
        expect(op.responses[s].content['application/json'].schema.$ref).to.equal(
          '#/components/schemas/ErrorEnvelope',
        );
      }
    });
  }

  it('declares limit optional on every list route, with its default of 20 (issue 11)', () => {
    const limits = Object.entries(doc.paths).flatMap(([path, ops]: [string, any]) =>
      Object.values(ops).flatMap((op: any) =>
        (op.parameters ?? [])
          .filter((p: any) => p.in === 'query' && p.name === 'limit')
          .map((p: any) => ({ path, required: p.required, default: p.schema.default })),
      ),
    );
    expect(limits.map((l) => l.path).sort()).to.deep.equal([
      '/v1/me/followers',
      '/v1/me/following',
      '/v1/me/history',
      '/v1/sessions',
      '/v1/sessions/{id}/feedback',
      '/v1/sessions/{id}/results',
    ]);
    for (const l of limits) expect(l, l.path).to.deep.include({ required: false, default: 20 });
  });

  it('describes the error envelope with the contract’s codes', () => {
    const envelope = doc.components.schemas.ErrorEnvelope;
    expect(envelope.required).to.deep.equal(['error']);
    expect(envelope.properties.error.properties.code.enum).to.include.members(Object.values(ErrorCode));
  });

  it('documents the results route’s 202 with Retry-After, 304 and the cache headers (issue 13)', () => {
    const op = doc.paths['/v1/sessions/{id}/results'].get;
    expect(op.responses['202'].description).to.equal('RESULTS_PENDING');
    expect(op.responses['202'].content['application/json'].schema.$ref).to.equal(
      '#/components/schemas/ErrorEnvelope',
    );
    expect(Object.keys(op.responses['202'].headers)).to.deep.equal(['Retry-After', 'Cache-Control']);
    expect(op.responses['304'].description).to.match(/^not modified/);
    expect(Object.keys(op.responses['200'].headers)).to.deep.equal(['ETag', 'Cache-Control', 'Vary']);
    expect(op.parameters.map((p: any) => `${p.in} ${p.name}`)).to.include('header if-none-match');
  });

  it('serves Swagger UI from the package, not from a CDN', async () => {
    const page = await api.call('GET', '/docs');
    expect(page.status).to.equal(200);
    expect(page.body).to.contain('/docs/swagger-ui-bundle.js');
    expect(page.body).to.not.match(/https?:\/\//);
    const bundle = await fetch(`${api.url}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).to.equal(200);
    expect((await bundle.text()).length).to.be.greaterThan(100_000);
    expect((await api.call('GET', '/docs/..%2Fpackage.json')).status).to.equal(404);
  });
});

describe('the AsyncAPI document (issue 15)', () => {
  let api: TestApi;
  before(async () => {
    api = await TestApi.start();
  });
  after(() => api.close());

  it('is served beside /openapi.json, valid for the AsyncAPI parser, naming the public gateway', async () => {
    const res = await api.call('GET', '/asyncapi.json');
    expect(res.status).to.equal(200);
    const { document, diagnostics } = await new Parser().parse(res.body);
    expect(diagnostics.filter((d) => d.severity === 0)).to.deep.equal([]);
    const gateway = new URL(api.config.GATEWAY_PUBLIC_URL);
    expect(document?.servers().get('gateway')?.host()).to.equal(gateway.host);
    expect(document?.channels().get('live')?.address()).to.equal(gateway.pathname);
  });
});
