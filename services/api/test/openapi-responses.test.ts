/* eslint-disable @typescript-eslint/no-explicit-any -- the document and the replies are untyped JSON */
import { expect } from 'chai';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { ClickHouseTable } from '@pulse/contracts';
import { TestApi } from './harness.js';
import type { CallOptions, Reply } from './harness.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module namespace.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * zod-to-openapi writes OpenAPI 3.0's nullable in two shapes JSON Schema validators do not read:
 * `allOf: [A, {nullable: true}]` (a nullable reference: A or null) and a bare `{nullable: true}` (any
 * value). Rewritten as `anyOf: [A, {type: 'null'}]` and `{}`; everything else is validated as written.
 */
function readableNullables(node: any): any {
  if (Array.isArray(node)) return node.map(readableNullables);
  if (node === null || typeof node !== 'object') return node;
  const keys = Object.keys(node);
  if (keys.length === 1 && node.nullable === true) return {};
  if (
    Array.isArray(node.allOf) &&
    node.allOf.length === 2 &&
    JSON.stringify(node.allOf[1]) === '{"nullable":true}'
  ) {
    const { allOf, ...rest } = node;
    return { ...readableNullables(rest), anyOf: [readableNullables(allOf[0]), { type: 'null' }] };
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, readableNullables(v)]));
}

/** A JSON value's properties that its (resolved) schema does not declare, as paths. */
function undocumented(value: any, schema: any, doc: any, path = '$'): string[] {
  if (schema === undefined || value === null || typeof value !== 'object') return [];
  if (schema.$ref) return undocumented(value, resolve(doc, schema.$ref), doc, path);
  if (schema.anyOf) return undocumented(value, schema.anyOf[0], doc, path);
  if (Array.isArray(value)) {
    return schema.items ? value.flatMap((v, i) => undocumented(v, schema.items, doc, `${path}[${i}]`)) : [];
  }
  const properties = declaredProperties(schema, doc);
  if (properties === undefined) return []; // free-form (error details)
  return Object.keys(value).flatMap((key) =>
    key in properties ? undocumented(value[key], properties[key], doc, `${path}.${key}`) : [`${path}.${key}`],
  );
}

/** The properties an object schema declares, through $ref and (nested) allOf; undefined: free-form. */
function declaredProperties(schema: any, doc: any): Record<string, any> | undefined {
  if (schema.$ref) return declaredProperties(resolve(doc, schema.$ref), doc);
  if (schema.allOf) {
    const parts = schema.allOf.map((s: any) => declaredProperties(s, doc)).filter(Boolean);
    return parts.length === 0 ? undefined : Object.assign({}, ...parts);
  }
  return schema.properties;
}

const resolve = (doc: any, ref: string): any =>
  ref
    .replace(/^#\//, '')
    .split('/')
    .reduce((node, part) => node[part], doc);

/** Finds the documented operation of a concrete request path. */
function operationOf(doc: any, method: string, path: string): any {
  const bare = path.split('?')[0];
  for (const [template, operations] of Object.entries<any>(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`);
    if (pattern.test(bare) && operations[method.toLowerCase()]) return operations[method.toLowerCase()];
  }
  throw new Error(`${method} ${bare} is not in the document`);
}

describe('real responses match the served OpenAPI document (issue 11)', () => {
  let api: TestApi;
  let doc: any;
  let ajv: Ajv;
  const validators = new Map<string, ValidateFunction>();
  const checked: string[] = [];

  before(async () => {
    api = await TestApi.start({ LOGIN_MAX_PER_ACCOUNT: '2', BODY_LIMIT_BYTES: '4096' });
    doc = readableNullables((await api.call('GET', '/openapi.json')).body);
    ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'openapi.json', components: doc.components });
  });
  after(() => api.close());

  /** Calls the API and checks the reply's status and body against the document; returns the reply. */
  async function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    const reply = await api.call(method, path, options);
    const operation = operationOf(doc, method, path);
    const what = `${method} ${path} → ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`;
    const documented = operation.responses[String(reply.status)];
    expect(documented, `${what}: status not documented`).to.not.equal(undefined);
    for (const [name, header] of Object.entries<any>(documented.headers ?? {})) {
      if (header.required) expect(reply.headers.get(name), `${what}: header ${name}`).to.match(/^[1-9]\d*$/);
    }
    const schema = documented.content?.['application/json']?.schema;
    if (schema === undefined) {
      expect(reply.body, `${what}: a body where the document has none`).to.equal('');
    } else {
      expect(reply.headers.get('content-type'), what).to.match(/^application\/json/);
      const key = JSON.stringify(schema);
      let validate = validators.get(key);
      if (!validate) {
        const rebased = JSON.parse(key.replace(/"#\/components\//g, '"openapi.json#/components/'));
        validate = ajv.compile(rebased);
        validators.set(key, validate);
      }
      expect(validate(reply.body), `${what}: ${ajv.errorsText(validate.errors)}`).to.equal(true);
      expect(undocumented(reply.body, schema, doc), `${what}: undocumented fields`).to.deep.equal([]);
    }
    checked.push(`${method} ${operationKey(path)} ${reply.status}`);
    return reply;
  }
  const operationKey = (path: string) =>
    path.split('?')[0].replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, ':id');

  it('for accounts: register, login, refresh, logout, me and their errors', async () => {
    const password = 'correct horse battery';
    const body = { email: 'doc@example.test', password, name: 'Doc', role: 'trainee', weightKg: 70 };
    expect((await call('POST', '/v1/auth/register', { body })).status).to.equal(201);
    expect((await call('POST', '/v1/auth/register', { body })).status).to.equal(409);
    expect((await call('POST', '/v1/auth/register', { body: { ...body, role: 'admin' } })).status).to.equal(
      400,
    );
    expect(
      (await call('POST', '/v1/auth/register', { body: { ...body, name: 'x'.repeat(10_000) } })).status,
    ).to.equal(413);
    const login = await call('POST', '/v1/auth/login', { body: { email: body.email, password } });
    expect(login.status).to.equal(200);
    const wrong = { body: { email: body.email, password: 'wrong-password' } };
    expect((await call('POST', '/v1/auth/login', wrong)).status).to.equal(401);
    expect((await call('POST', '/v1/auth/login', wrong)).status).to.equal(401);
    expect((await call('POST', '/v1/auth/login', wrong)).status).to.equal(429);
    const refreshed = await call('POST', '/v1/auth/refresh', {
      body: { refreshToken: login.body.refreshToken },
    });
    expect(refreshed.status).to.equal(200);
    expect(
      (await call('POST', '/v1/auth/refresh', { body: { refreshToken: login.body.refreshToken } })).status,
    ).to.equal(401);
    expect((await call('GET', '/v1/me', { token: refreshed.body.accessToken })).status).to.equal(200);
    expect((await call('GET', '/v1/me')).status).to.equal(401);
    const token = refreshed.body.accessToken;
    const changed = await call('PATCH', '/v1/me', { token, body: { birthYear: 1988, gender: 'male' } });
    expect(changed.status).to.equal(200);
    expect((await call('PATCH', '/v1/me', { token, body: { birthYear: 1 } })).status).to.equal(400);
    const out = await call('POST', '/v1/auth/logout', {
      token: refreshed.body.accessToken,
      body: { refreshToken: refreshed.body.refreshToken },
    });
    expect(out.status).to.equal(204);
  });

  it('for sessions, registrations, join, results, feedback and history, successes and errors', async () => {
    const [coach, otherCoach, ann, bob] = await Promise.all([
      api.user('trainer'),
      api.user('trainer'),
      api.user('trainee'),
      api.user('trainee'),
    ]);
    const startsAt = new Date(Date.now() + 3_600_000).toISOString();
    const draft = { title: 'Doc HIIT', type: 'hiit', startsAt, durationMinutes: 30, capacity: 1 };
    const created = await call('POST', '/v1/sessions', { token: coach.token, body: draft });
    expect(created.status).to.equal(201);
    const id = created.body.id;
    expect((await call('POST', '/v1/sessions', { token: ann.token, body: draft })).status).to.equal(403);
    expect(
      (
        await call('POST', '/v1/sessions', {
          token: coach.token,
          body: { ...draft, startsAt: '0000-01-01T00:00:00Z' },
        })
      ).status,
    ).to.equal(400);
    const listed = await call('GET', '/v1/sessions?limit=1', { token: ann.token });
    expect(listed.status).to.equal(200);
    expect((await call('GET', '/v1/sessions?limit=0', { token: ann.token })).status).to.equal(400);
    expect((await call('GET', `/v1/sessions/${id}`, { token: ann.token })).status).to.equal(200);
    expect((await call('GET', `/v1/sessions/${crypto.randomUUID()}`, { token: ann.token })).status).to.equal(
      404,
    );
    expect((await call('GET', '/v1/sessions/not-a-uuid', { token: ann.token })).status).to.equal(400);
    expect(
      (await call('PATCH', `/v1/sessions/${id}`, { token: coach.token, body: { title: 'Doc HIIT 2' } }))
        .status,
    ).to.equal(200);
    expect(
      (await call('PATCH', `/v1/sessions/${id}`, { token: otherCoach.token, body: { title: 'x' } })).status,
    ).to.equal(403);

    const registrations = `/v1/sessions/${id}/registrations`;
    expect((await call('POST', registrations, { token: ann.token })).status).to.equal(201);
    expect((await call('POST', registrations, { token: ann.token })).status).to.equal(200);
    expect((await call('POST', registrations, { token: bob.token })).status).to.equal(201);
    expect((await call('DELETE', `${registrations}/me`, { token: bob.token })).status).to.equal(204);
    expect((await call('DELETE', `${registrations}/me`, { token: bob.token })).status).to.equal(404);
    expect((await call('POST', registrations, { token: coach.token })).status).to.equal(403);
    expect((await call('POST', `/v1/sessions/${id}/join`, { token: ann.token })).status).to.equal(200);
    expect((await call('POST', `/v1/sessions/${id}/join`, { token: bob.token })).status).to.equal(403);
    expect((await call('GET', `/v1/sessions/${id}/results`, { token: ann.token })).status).to.equal(409);

    expect((await call('POST', `/v1/sessions/${id}/end`, { token: coach.token })).status).to.equal(409);
    expect((await call('POST', `/v1/sessions/${id}/start`, { token: coach.token })).status).to.equal(200);
    // Issue 15: the trainer's live view of the class; another trainer's is refused.
    const classEnergy = `/v1/sessions/${id}/class-energy`;
    expect((await call('GET', classEnergy, { token: coach.token })).status).to.equal(200);
    expect((await call('GET', classEnergy, { token: otherCoach.token })).status).to.equal(403);
    expect((await call('POST', `/v1/sessions/${id}/end`, { token: coach.token })).status).to.equal(200);
    // Ended, not frozen yet (issue 13): 202 with Retry-After; frozen once the engine's final row exists.
    expect((await call('GET', `/v1/sessions/${id}/results`, { token: ann.token })).status).to.equal(202);
    await api.clickhouse.insert({
      table: `${api.config.CLICKHOUSE_DB}.${ClickHouseTable.SESSION_RESULTS}`,
      values: [{ session_id: id, participants: 0, final: 1, updated_at: 1_795_600_000, version: 1 }],
      format: 'JSONEachRow',
    });
    expect(await api.freezer.freeze(id)).to.equal('frozen');
    const frozen = await call('GET', `/v1/sessions/${id}/results`, { token: ann.token });
    expect(frozen.status).to.equal(200);
    const etag = frozen.headers.get('etag')!;
    const again = { token: ann.token, headers: { 'if-none-match': etag } };
    expect((await call('GET', `/v1/sessions/${id}/results`, again)).status).to.equal(304);

    const feedback = `/v1/sessions/${id}/feedback`;
    expect((await call('POST', feedback, { token: ann.token, body: { rating: 4 } })).status).to.equal(201);
    expect((await call('POST', feedback, { token: ann.token, body: { rating: 4 } })).status).to.equal(409);
    expect((await call('POST', feedback, { token: bob.token, body: { rating: 4 } })).status).to.equal(403);
    expect((await call('GET', `${feedback}?limit=1`, { token: coach.token })).status).to.equal(200);
    expect((await call('GET', feedback, { token: otherCoach.token })).status).to.equal(403);
    expect((await call('GET', '/v1/me/history', { token: ann.token })).status).to.equal(200);
    expect((await call('GET', '/v1/me/history', { token: coach.token })).status).to.equal(403);

    const other = await call('POST', '/v1/sessions', { token: coach.token, body: draft });
    expect(
      (await call('POST', `/v1/sessions/${other.body.id}/cancel`, { token: coach.token })).status,
    ).to.equal(200);
    expect(
      (await call('POST', `/v1/sessions/${other.body.id}/registrations`, { token: ann.token })).status,
    ).to.equal(409);
  });

  it('for follows: follow, unfollow, both lists and their errors', async () => {
    const [ann, bob, coach] = await Promise.all([
      api.user('trainee'),
      api.user('trainee'),
      api.user('trainer'),
    ]);
    expect((await call('PUT', `/v1/users/${bob.id}/follow`, { token: ann.token })).status).to.equal(204);
    expect((await call('PUT', `/v1/users/${ann.id}/follow`, { token: ann.token })).status).to.equal(400);
    expect((await call('PUT', `/v1/users/${coach.id}/follow`, { token: ann.token })).status).to.equal(404);
    expect((await call('PUT', `/v1/users/${bob.id}/follow`, { token: coach.token })).status).to.equal(403);
    expect((await call('GET', '/v1/me/following', { token: ann.token })).status).to.equal(200);
    expect((await call('GET', '/v1/me/followers', { token: bob.token })).status).to.equal(200);
    expect((await call('GET', '/v1/me/followers?limit=0', { token: bob.token })).status).to.equal(400);
    expect((await call('DELETE', `/v1/users/${bob.id}/follow`, { token: ann.token })).status).to.equal(204);
    expect((await call('DELETE', `/v1/users/${coach.id}/follow`, { token: ann.token })).status).to.equal(404);
  });

  it('covered every documented operation', () => {
    const documented = Object.entries<any>(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{\w+\}/g, ':id')}`),
    );
    const covered = new Set(checked.map((c) => c.split(' ').slice(0, 2).join(' ')));
    expect(documented.filter((op) => !covered.has(op))).to.deep.equal([]);
  });
});
