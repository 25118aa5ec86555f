import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import Router from '@koa/router';
import { asyncApiDocument } from '@pulse/contracts';
import type { AsyncApiDocument } from '@pulse/contracts';
import { prepareDocs } from 'koa-swagger-decorator/dist/lib/swagger-builder.js';
import { NotFound } from '../errors.js';

/** koa-swagger-decorator lists every operation with a default 200 carrying this description. */
const PLACEHOLDER_200 = '成功响应';
const UI_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

type Parameter = { in?: string; required?: boolean; schema?: { default?: unknown } };
type Operation = { responses?: Record<string, { description?: string }>; parameters?: Parameter[] };
type OpenApiDocument = {
  paths: Record<string, Record<string, Operation>>;
  components?: Record<string, unknown>;
  [key: string]: unknown;
};

let cachedDocument: OpenApiDocument | undefined;

/**
 * The OpenAPI document, generated once: the decorators' output completed with the bearer scheme and
 * without the placeholder 200 the generator adds to operations whose success is 201 or 204. A query
 * parameter with a default (`limit`) is optional: the generator declares every `.default()` required
 * (issue 11).
 */
export function openApiDocument(): OpenApiDocument {
  if (cachedDocument) return cachedDocument;
  const doc = prepareDocs() as unknown as OpenApiDocument;
  for (const operations of Object.values(doc.paths)) {
    for (const operation of Object.values(operations)) {
      const ok = operation.responses?.['200'];
      if (ok?.description === PLACEHOLDER_200) delete operation.responses!['200'];
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'query' && parameter.schema?.default !== undefined) parameter.required = false;
      }
    }
  }
  doc.components = {
    ...doc.components,
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
  };
  cachedDocument = doc;
  return doc;
}

const uiDirectory = (): string =>
  path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const uiPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Pulse API</title>
<link rel="icon" href="/docs/favicon-32x32.png"><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;
const uiInit = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });`;

/** The AsyncAPI document of the live socket, naming the gateway clients are sent to by join. */
function liveDocument(gatewayPublicUrl: string): AsyncApiDocument {
  const url = new URL(gatewayPublicUrl);
  return asyncApiDocument({ host: url.host, protocol: url.protocol === 'wss:' ? 'wss' : 'ws' });
}

/**
 * GET /openapi.json (REST), GET /asyncapi.json (the live WebSocket protocol) and Swagger UI at /docs, served
 * from the swagger-ui-dist package (no CDN).
 */
export function docsRoutes(gatewayPublicUrl: string): Router {
  const router = new Router();
  const dir = uiDirectory();
  const live = liveDocument(gatewayPublicUrl);
  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument();
  });
  router.get('/asyncapi.json', (ctx) => {
    ctx.body = live;
  });
  router.get('/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = uiPage;
  });
  router.get('/docs/init.js', (ctx) => {
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.body = uiInit;
  });
  router.get('/docs/:file', async (ctx) => {
    const type = Object.hasOwn(UI_FILES, ctx.params.file) ? UI_FILES[ctx.params.file] : undefined;
    if (type === undefined) throw new NotFound('file', ctx.params.file);
    ctx.type = type;
    ctx.set('cache-control', 'public, max-age=86400');
    ctx.body = await readFile(path.join(dir, ctx.params.file));
  });
  return router;
}
