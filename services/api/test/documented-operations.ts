/* eslint-disable @typescript-eslint/no-explicit-any -- the OpenAPI document is untyped JSON */
import { TestApi } from './harness.js';

/** One operation of the served OpenAPI document, in the shape the tests call it. */
export interface DocumentedOperation {
  /** Upper case, as sent. */
  method: string;
  /** The documented path with `:name` for `{name}`, as test titles and fixtures write it. */
  path: string;
  pathParams: string[];
  queryParams: { name: string; schema: any }[];
  /** The JSON body's object schema, references resolved; undefined when the operation takes none. */
  body: any;
  /** The document asks for a bearer token. */
  secured: boolean;
}

const resolve = (doc: any, node: any): any =>
  node?.$ref === undefined
    ? node
    : node.$ref
        .replace(/^#\//, '')
        .split('/')
        .reduce((at: any, part: string) => at[part], doc);

/** Every operation of an OpenAPI document, in the document's order. */
export function operationsOf(doc: any): DocumentedOperation[] {
  return Object.entries<any>(doc.paths).flatMap(([template, operations]) =>
    Object.entries<any>(operations).map(([method, op]) => {
      const parameters: any[] = (op.parameters ?? []).map((p: any) => resolve(doc, p));
      const body = resolve(doc, op.requestBody?.content?.['application/json']?.schema);
      return {
        method: method.toUpperCase(),
        path: template.replace(/\{(\w+)\}/g, ':$1'),
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: parameters
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, schema: resolve(doc, p.schema) })),
        body:
          body === undefined
            ? undefined
            : {
                ...body,
                properties: Object.fromEntries(
                  Object.entries<any>(body.properties ?? {}).map(([k, v]) => [k, resolve(doc, v)]),
                ),
              },
        secured: (op.security ?? []).length > 0,
      };
    }),
  );
}

/**
 * The operations the API documents, read from its own GET /openapi.json (an API of its own, closed
 * before returning), so that a test can declare one `it` per operation.
 */
export async function servedOperations(): Promise<DocumentedOperation[]> {
  const api = await TestApi.start({}, { publisher: false });
  try {
    const res = await api.call('GET', '/openapi.json');
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
    return operationsOf(res.body);
  } finally {
    await api.close();
  }
}

const DAY_MS = 86_400_000;

/** A value the (resolved) property schema accepts, from its type, format, enum and bounds. */
export function validValue(schema: any): unknown {
  const en = (schema.enum ?? []).filter((v: unknown) => v !== null);
  if (en.length > 0) return en[0];
  switch (schema.type) {
    case 'string':
      if (schema.format === 'email') return 'someone@example.test';
      if (schema.format === 'date-time') return new Date(Date.now() + DAY_MS).toISOString();
      if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      if (schema.format === undefined) {
        const text = 'x'.repeat(Math.max(1, schema.minLength ?? 1));
        if (schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(text)) return text;
      }
      break;
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
  }
  throw new Error(`no valid example for the schema ${JSON.stringify(schema)}: teach validValue`);
}

/** A body the object schema accepts: every documented property with a valid value. */
export const validBody = (schema: any): Record<string, unknown> =>
  Object.fromEntries(Object.entries<any>(schema.properties).map(([k, v]) => [k, validValue(v)]));

/** One value of each JSON type (integer and non-integer numbers apart). */
const JSON_TYPE_SAMPLES: [string, unknown][] = [
  ['string', 'x'],
  ['integer', 7],
  ['number', 1.5],
  ['boolean', true],
  ['null', null],
  ['array', [1]],
  ['object', { a: 1 }],
];

const accepts = (schema: any, type: string): boolean =>
  schema.type === type ||
  (schema.type === 'number' && type === 'integer') ||
  (schema.nullable === true && type === 'null');

/** Values whose JSON type the property schema does not accept. */
export const wrongTypes = (schema: any): unknown[] =>
  JSON_TYPE_SAMPLES.filter(([type]) => !accepts(schema, type)).map(([, value]) => value);

/** Valid bodies with one field replaced by a value of a wrong type, for every field and wrong type. */
export function wrongTypedBodies(schema: any): { field: string; value: unknown; body: unknown }[] {
  const valid = validBody(schema);
  return Object.entries<any>(schema.properties).flatMap(([field, property]) =>
    wrongTypes(property).map((value) => ({ field, value, body: { ...valid, [field]: value } })),
  );
}

/** A string without format or enum: text the client chooses. */
const isFreeText = (schema: any): boolean =>
  schema.type === 'string' && schema.format === undefined && schema.enum === undefined;

/** The operation's free-text body fields and query parameters. */
export function freeTextInputs(
  op: DocumentedOperation,
): { name: string; schema: any; in: 'body' | 'query' }[] {
  return [
    ...Object.entries<any>(op.body?.properties ?? {})
      .filter(([, schema]) => isFreeText(schema))
      .map(([name, schema]) => ({ name, schema, in: 'body' as const })),
    ...op.queryParams.filter((q) => isFreeText(q.schema)).map((q) => ({ ...q, in: 'query' as const })),
  ];
}
