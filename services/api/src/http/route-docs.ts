import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { AnyZodObject, ZodTypeAny } from 'zod';
import type { ErrorCode } from '@pulse/contracts';
import { HttpStatus } from '@pulse/contracts';
import { ErrorEnvelope } from './schemas.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Code = keyof typeof ErrorCode;

export interface RouteDoc {
  method: Method;
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Anonymous routes carry no bearer requirement. */
  anonymous?: boolean;
  request?: { params?: AnyZodObject; query?: AnyZodObject; headers?: AnyZodObject };
  success: { status: 200 | 201 | 204; description: string; schema?: ZodTypeAny; alsoOk?: ZodTypeAny };
  errors: Code[];
  /** The route answers 304 to a matching If-None-Match; the text says when. */
  notModified?: string;
  /** Response headers by status: name → description (or with `required` when always sent). */
  headers?: Partial<Record<number, Record<string, string | { description: string; required: true }>>>;
}

const json = (schema: ZodTypeAny) => ({ 'application/json': { schema } });

/** Answers that tell the client when to come back (seconds), as the error middleware sets them. */
const RETRY_AFTER = {
  'Retry-After': {
    description: 'seconds to wait before retrying',
    required: true,
    schema: { type: 'integer' as const, minimum: 1 },
  },
};
const WITH_RETRY_AFTER = new Set<number>([HttpStatus.RATE_LIMITED, HttpStatus.UNAVAILABLE]);

/**
 * The error answers every route can give whatever its purpose; UNAVAILABLE also when the handler runs longer
 * than REQUEST_TIMEOUT_MS or PostgreSQL cancels a statement (DATABASE_STATEMENT_TIMEOUT_MS).
 */
const ALWAYS: Code[] = ['INTERNAL', 'UNAVAILABLE'];

/**
 * Builds the koa-swagger-decorator route config with the real responses: the success status and every
 * error status the route can answer, each with the contract's error envelope.
 */
export function routeDoc(doc: RouteDoc): Partial<RouteConfig> {
  const responses: RouteConfig['responses'] = {
    [doc.success.status]: {
      description: doc.success.description,
      ...(doc.success.schema ? { content: json(doc.success.schema) } : {}),
    },
  };
  if (doc.success.alsoOk)
    responses[200] = { description: 'already existed', content: json(doc.success.alsoOk) };
  const codes = new Set<Code>([...doc.errors, ...ALWAYS]);
  if (!doc.anonymous) codes.add('UNAUTHENTICATED');
  if (doc.request?.params || doc.request?.query) codes.add('VALIDATION_FAILED');
  for (const code of codes) {
    const status = HttpStatus[code];
    const existing = responses[status];
    const description = existing ? `${existing.description}; ${code}` : code;
    responses[status] = {
      description,
      content: json(ErrorEnvelope),
      ...(WITH_RETRY_AFTER.has(status) ? { headers: RETRY_AFTER } : {}),
    };
  }
  if (doc.notModified !== undefined) responses[304] = { description: `not modified: ${doc.notModified}` };
  for (const [status, headers] of Object.entries(doc.headers ?? {})) {
    const response = responses[status];
    if (response === undefined || headers === undefined) continue;
    response.headers = Object.fromEntries(
      Object.entries(headers).map(([name, header]) => [
        name,
        typeof header === 'string'
          ? { description: header, schema: { type: 'string' as const } }
          : { ...header, schema: { type: 'string' as const } },
      ]),
    );
  }
  return {
    method: doc.method,
    path: doc.path,
    summary: doc.summary,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    tags: doc.tags,
    operationId: `${doc.method}${doc.path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase())}`,
    ...(doc.anonymous ? {} : { security: [{ bearerAuth: [] }] }),
    request: doc.request ?? {},
    responses,
  };
}
