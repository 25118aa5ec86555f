/* eslint-disable @typescript-eslint/no-explicit-any */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { ErrorCode, HttpStatus } from '@pulse/contracts';
import {
  freeTextInputs,
  operationsOf,
  servedOperations,
  validBody,
  wrongTypedBodies,
} from './documented-operations.js';
import type { DocumentedOperation } from './documented-operations.js';
import { TestApi } from './harness.js';
import type { TestUser } from './harness.js';

const SQL = "'; DROP TABLE app_user; --";
/**
 * Every documented operation, read from the API's own GET /openapi.json before the tests are declared
 * (mocha imports ES modules, so their top-level await finishes first): a new route cannot escape this file.
 */
const OPERATIONS: DocumentedOperation[] = await servedOperations();
/** The length of the hand-written route list this file walked before: the derived one may not be shorter. */
const HAND_WRITTEN_ROUTE_COUNT = 19;
const BAD_IDS = [
  'not-a-uuid',
  encodeURIComponent(SQL),
  '00000000-0000-0000-0000-00000000000z',
  '1%00',
  '%E0%A4%A',
];
/** Well-formed UUIDs no row has: a random one (also upper case), the nil and the max UUID (RFC 9562). */
const NOWHERE_IDS = [
  randomUUID(),
  randomUUID().toUpperCase(),
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
];
/** Text PostgreSQL cannot store: NUL, and UTF-16 halves without their pair (no UTF-8 to send in a query). */
const UNSTORABLE_TEXT = ['\u0000', 'a\u0000b', '\ud800', 'a\udc00b'];
const UNSTORABLE_QUERY_TEXT = ['\u0000', 'a\u0000b'];
const WRONG_TYPES = {
  email: 42,
  password: ['x'],
  name: { a: 1 },
  role: 'admin',
  weightKg: 'heavy',
  refreshToken: 7,
  title: null,
  type: 3,
  startsAt: 'tomorrow',
  durationMinutes: 1.5,
  capacity: -1,
  rating: 'five',
  comment: 9,
};
const SQL_FIELDS = {
  email: `a${SQL}@x.io`,
  password: SQL,
  name: SQL,
  role: SQL,
  refreshToken: SQL,
  title: SQL,
  type: SQL,
  description: SQL,
  startsAt: SQL,
  comment: SQL,
};
const BAD_QUERIES = [
  `?status=${encodeURIComponent(SQL)}`,
  `?limit=${encodeURIComponent(SQL)}`,
  '?limit=100000',
  '?limit=-1',
  `?cursor=${encodeURIComponent(SQL)}`,
  '?cursor=eyJzdGFydHNBdCI6MX0',
  `?trainerId=${encodeURIComponent(SQL)}`,
  `?from=${encodeURIComponent(SQL)}`,
  `?type=${encodeURIComponent(SQL)}`,
  '?unknown=1',
  '?limit=1&limit=2',
];

/** Instants outside 0001..9999 UTC, or not instants at all (issue 11: year 0000 gave a 500). */
const OUT_OF_RANGE_TIMES = [
  '0000-01-01T00:00:00Z',
  '0000-06-15T12:00:00+00:00',
  '0001-01-01T00:00:00+01:00',
  '10000-01-01T00:00:00Z',
  '+010000-01-01T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '9999-12-31T23:59:59-23:59',
  '2026-02-30T10:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-01-01T24:00:00Z',
  '2026-01-01T00:00:00+99:99',
  '275760-09-13T00:00:00Z',
];
/** fetch refuses to send `Upgrade`; node:http sends it (and reads a non-101 answer as a response). */
function upgradeRequest(
  base: string,
  method: string,
  path: string,
  upgrade: string,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers: { upgrade, connection: 'Upgrade' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
    });
    req.on('upgrade', () => reject(new Error(`${method} ${path} switched protocols`)));
    req.on('error', reject);
    req.end();
  });
}
const cursorOf = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

describe('bad input never gives a 500', () => {
  let api: TestApi;
  let trainer: TestUser;
  let trainee: TestUser;
  let followee: TestUser;
  let sessionId: string;
  /** What a path parameter stands for, by the resource named before it: the fixture of that kind. */
  let fixtureIds: Record<string, string>;
  before(async () => {
    api = await TestApi.start({
      LOGIN_MAX_PER_IP: '100000',
      LOGIN_MAX_PER_ACCOUNT: '100000',
      BODY_LIMIT_BYTES: '65536',
      // Two trusted hops, so the garbage X-Forwarded-For below is parsed, not ignored.
      TRUST_PROXY: '2',
    });
    [trainer, trainee, followee] = await Promise.all([
      api.user('trainer'),
      api.user('trainee'),
      api.user('trainee'),
    ]);
    sessionId = (await api.session(trainer)).id;
    await api.call('POST', `/v1/sessions/${sessionId}/registrations`, { token: trainee.token });
    fixtureIds = { sessions: sessionId, users: followee.id };
  });
  after(() => api.close());

  /** 200..499, and a 4xx carries the envelope with one of the contract's codes, answered with its status. */
  const expectClientError = (res: { status: number; body: any }, what: string) => {
    expect(res.status, `${what} → ${res.status} ${JSON.stringify(res.body)}`).to.be.within(200, 499);
    if (res.status >= 400) {
      expect(res.body?.error?.code, what).to.be.oneOf(Object.values(ErrorCode));
      expect(res.body.error.message, what).to.be.a('string');
      expect(HttpStatus[res.body.error.code as ErrorCode], what).to.equal(res.status);
    }
  };
  const expectError = (res: { status: number; body: any }, code: ErrorCode, what: string) => {
    expect(res.status, `${what} → ${res.status} ${JSON.stringify(res.body)}`).to.equal(HttpStatus[code]);
    expect(res.body.error.code, what).to.equal(code);
  };
  const target = (path: string) =>
    path.replace(/\/(\w+)\/:\w+/g, (param, resource: string) => {
      if (!Object.hasOwn(fixtureIds, resource)) throw new Error(`${path}: add a fixture for ${param}`);
      return `/${resource}/${fixtureIds[resource]}`;
    });
  /** The path with each id in every parameter; none when it has no parameter. */
  const withIds = (path: string, ids: string[]) =>
    /:\w+/.test(path) ? ids.map((id) => path.replace(/:\w+/g, id)) : [];

  /**
   * Ids no row has in every path parameter, with a valid body: NOT_FOUND, never a 500. A caller whose role
   * the route refuses whatever the target hears FORBIDDEN first; the other role must hear NOT_FOUND.
   */
  async function expectNothingAt(op: DocumentedOperation) {
    const body = op.body === undefined ? undefined : validBody(op.body);
    for (const p of withIds(op.path, NOWHERE_IDS)) {
      const codes: string[] = [];
      for (const user of [trainer, trainee]) {
        const res = await api.call(op.method, p, { token: user.token, body });
        const what = `${op.method} ${p} as a ${user.role}`;
        expectClientError(res, what);
        expect(res.body?.error?.code, what).to.be.oneOf([ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN]);
        codes.push(res.body.error.code);
      }
      expect(codes, `${op.method} ${p}`).to.include(ErrorCode.NOT_FOUND);
    }
  }

  /** The documented body with one field of a wrong JSON type: 400 VALIDATION_FAILED naming that field. */
  async function expectWrongTypesRefused(op: DocumentedOperation, user: TestUser) {
    for (const { field, value, body } of wrongTypedBodies(op.body)) {
      const what = `${op.method} ${op.path} with ${field}: ${JSON.stringify(value)} as a ${user.role}`;
      const res = await api.call(op.method, target(op.path), { token: user.token, body });
      expectError(res, ErrorCode.VALIDATION_FAILED, what);
      const paths = new Set(res.body.error.details.issues.map((i: any) => i.path));
      expect([...paths], what).to.deep.equal([field]);
    }
  }

  it(`walks at least the ${HAND_WRITTEN_ROUTE_COUNT} routes of the former hand-written list, as this API serves them`, async () => {
    expect(OPERATIONS).to.have.length.of.at.least(HAND_WRITTEN_ROUTE_COUNT);
    const served = await api.call('GET', '/openapi.json');
    expect(operationsOf(served.body)).to.deep.equal(OPERATIONS);
  });

  /**
   * Each free-text body field and query parameter with text PostgreSQL cannot store: 400 naming it where its
   * documented pattern refuses it, else (passwords, refresh tokens: hashed, never stored) no 5xx.
   */
  async function expectUnstorableTextRefused(op: DocumentedOperation, user: TestUser) {
    for (const input of freeTextInputs(op)) {
      for (const value of input.in === 'body' ? UNSTORABLE_TEXT : UNSTORABLE_QUERY_TEXT) {
        const what = `${op.method} ${op.path} with ${input.name}: ${JSON.stringify(value)} as a ${user.role}`;
        const res =
          input.in === 'body'
            ? await api.call(op.method, target(op.path), {
                token: user.token,
                body: { ...validBody(op.body), [input.name]: value },
              })
            : await api.call(op.method, `${target(op.path)}?${input.name}=${encodeURIComponent(value)}`, {
                token: user.token,
              });
        if (input.schema.pattern === undefined || new RegExp(input.schema.pattern, 'u').test(value)) {
          expectClientError(res, what);
          continue;
        }
        expectError(res, ErrorCode.VALIDATION_FAILED, what);
        expect(
          res.body.error.details.issues.map((i: any) => i.path),
          what,
        ).to.deep.equal([input.name]);
      }
    }
  }

  for (const op of OPERATIONS) {
    const { method, path } = op;
    it(`${method} ${path} survives malformed JSON, wrong types, huge and unknown bodies, bad ids and SQL`, async () => {
      for (const user of [trainer, trainee]) {
        const send = (p: string, options: Parameters<TestApi['call']>[2]) =>
          api.call(method, p, { token: user.token, ...options });
        const bodies: [string, Parameters<TestApi['call']>[2]][] = [
          ['malformed JSON', { raw: '{"title": "x",' }],
          ['a JSON string', { raw: '"just a string"' }],
          ['a JSON array', { body: [1, 2, 3] }],
          ['JSON null', { raw: 'null' }],
          ['wrong types', { body: WRONG_TYPES }],
          ['unknown fields', { raw: '{"rating":3,"title":"x","isAdmin":true,"__proto__":{"polluted":1}}' }],
          ['SQL-looking strings', { body: SQL_FIELDS }],
          ['a huge body', { body: { title: 'x'.repeat(2_000_000) } }],
          [
            'form encoding',
            { raw: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
          ],
          [
            'a wrong charset',
            { raw: '{"a":1}', headers: { 'content-type': 'application/json; charset=klingon' } },
          ],
        ];
        for (const [what, options] of method === 'GET' ? [] : bodies) {
          const res = await send(target(path), options);
          expectClientError(res, `${method} ${path} with ${what}`);
          if (what === 'a huge body' && ['POST', 'PUT', 'PATCH'].includes(method)) {
            expect(res.status).to.equal(413);
            expect(res.body.error.code).to.equal('PAYLOAD_TOO_LARGE');
          }
        }
        for (const p of withIds(path, BAD_IDS)) {
          const res = await send(p, method === 'GET' ? {} : { body: { rating: 3 } });
          expectClientError(res, `${method} ${p}`);
          if (!p.includes('%E0') && !p.includes('%00')) expect(res.status, p).to.be.oneOf([400, 403]);
        }
        if (method === 'GET') {
          for (const q of BAD_QUERIES)
            expectClientError(await send(`${target(path)}${q}`, {}), `${method} ${path}${q}`);
        }
        if (op.body !== undefined) await expectWrongTypesRefused(op, user);
        await expectUnstorableTextRefused(op, user);
      }
      await expectNothingAt(op);
    });
  }

  it('answers 400 VALIDATION_FAILED to every out-of-range instant: startsAt, from, to and cursors', async () => {
    const expect400 = (res: { status: number; body: any }, what: string) => {
      expect(res.status, `${what} → ${JSON.stringify(res.body)}`).to.equal(400);
      expect(res.body.error.code, what).to.equal('VALIDATION_FAILED');
    };
    const base = { title: 'T', type: 'hiit', durationMinutes: 30, capacity: 5 };
    for (const t of OUT_OF_RANGE_TIMES) {
      const create = await api.call('POST', '/v1/sessions', {
        token: trainer.token,
        body: { ...base, startsAt: t },
      });
      expect400(create, `POST startsAt ${t}`);
      const edit = await api.call('PATCH', `/v1/sessions/${sessionId}`, {
        token: trainer.token,
        body: { startsAt: t },
      });
      expect400(edit, `PATCH startsAt ${t}`);
      for (const field of ['from', 'to']) {
        const list = await api.call('GET', `/v1/sessions?${field}=${encodeURIComponent(t)}`, {
          token: trainee.token,
        });
        expect400(list, `GET ?${field}=${t}`);
      }
      const cursor = cursorOf({ startsAt: t, id: sessionId });
      const page = await api.call('GET', `/v1/sessions?cursor=${cursor}`, { token: trainee.token });
      expect400(page, `GET ?cursor with startsAt ${t}`);
      const feedbackCursor = cursorOf({ createdAt: t, id: sessionId });
      const feedback = await api.call('GET', `/v1/sessions/${sessionId}/feedback?cursor=${feedbackCursor}`, {
        token: trainer.token,
      });
      expect400(feedback, `GET feedback ?cursor with createdAt ${t}`);
      const historyCursor = cursorOf({ endedAt: t, id: sessionId });
      const history = await api.call('GET', `/v1/me/history?cursor=${historyCursor}`, {
        token: trainee.token,
      });
      expect400(history, `GET history ?cursor with endedAt ${t}`);
      const followCursor = cursorOf({ since: t, userId: followee.id });
      for (const list of ['/v1/me/following', '/v1/me/followers']) {
        const follows = await api.call('GET', `${list}?cursor=${followCursor}`, { token: trainee.token });
        expect400(follows, `GET ${list} ?cursor with since ${t}`);
      }
    }
    const latest = await api.call('POST', '/v1/sessions', {
      token: trainer.token,
      body: { ...base, startsAt: '9999-12-31T23:59:59.999Z' },
    });
    expect(latest.status, JSON.stringify(latest.body)).to.equal(201);
    expect(latest.body.startsAt).to.equal('9999-12-31T23:59:59.999Z');
    const earliest = await api.call('GET', `/v1/sessions?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z`, {
      token: trainee.token,
    });
    expect(earliest.status).to.equal(200);
  });

  it('answers 400 VALIDATION_FAILED to an out-of-range instant in every documented date-time field', async () => {
    const isInstant = (schema: any) => schema.type === 'string' && schema.format === 'date-time';
    const fields = OPERATIONS.flatMap((op) => [
      ...Object.entries<any>(op.body?.properties ?? {})
        .filter(([, schema]) => isInstant(schema))
        .map(([name]) => ({ op, name, inBody: true })),
      ...op.queryParams.filter((q) => isInstant(q.schema)).map(({ name }) => ({ op, name, inBody: false })),
    ]);
    expect(fields.map((f) => `${f.op.method} ${f.op.path} ${f.name}`)).to.include.members([
      'POST /v1/sessions startsAt',
      'GET /v1/sessions from',
    ]);
    for (const { op, name, inBody } of fields) {
      for (const t of OUT_OF_RANGE_TIMES) {
        const res = inBody
          ? await api.call(op.method, target(op.path), {
              token: trainer.token,
              body: { ...validBody(op.body), [name]: t },
            })
          : await api.call(op.method, `${target(op.path)}?${name}=${encodeURIComponent(t)}`, {
              token: trainer.token,
            });
        expectError(res, ErrorCode.VALIDATION_FAILED, `${op.method} ${op.path} ${name}=${t}`);
      }
    }
  });

  it('answers 401 UNAUTHENTICATED to a forged, foreign or expired access token on every secured operation', async () => {
    const secret = api.config.JWT_ACCESS_SECRET;
    const claims = { subject: trainee.id, issuer: 'pulse-api', audience: 'pulse-api' };
    const tokens: [string, string][] = [
      ['alg none', jwt.sign({ role: 'trainer' }, '', { ...claims, algorithm: 'none' } as any)],
      ['a foreign secret', jwt.sign({ role: 'trainer' }, 'another-secret-another-secret-12345', claims)],
      ['the join ticket secret', jwt.sign({ role: 'trainer' }, api.config.JOIN_TICKET_SECRET, claims)],
      ['another audience', jwt.sign({ role: 'trainer' }, secret, { ...claims, audience: 'pulse-gateway' })],
      [
        'an expired exp',
        jwt.sign({ role: 'trainee', exp: Math.floor(Date.now() / 1000) - 10 }, secret, claims),
      ],
      ['garbage', 'garbage'],
    ];
    for (const op of OPERATIONS) {
      const body = op.body === undefined ? undefined : validBody(op.body);
      for (const [what, token] of tokens) {
        const res = await api.call(op.method, target(op.path), { token, body });
        const call = `${op.method} ${op.path} with ${what}`;
        if (op.secured) expectError(res, ErrorCode.UNAUTHENTICATED, call);
        else expectClientError(res, call);
      }
    }
  });

  it('survives garbage X-Forwarded-For chains on every route (issue 11)', async () => {
    const chains = [
      'nonsense',
      ' , ,,',
      '[::1, 999.1.1.1, 10.0.0.1',
      `${'1.2.3.4, '.repeat(1000)}5.6.7.8`,
      "'; DROP TABLE app_user; --, 10.0.0.1",
      '::ffff:10.0.0.1, fe80::1%eth0',
    ];
    for (const { method, path } of OPERATIONS) {
      for (const chain of chains) {
        const res = await api.call(method, target(path), {
          token: trainee.token,
          headers: { 'x-forwarded-for': chain },
          ...(method === 'GET' ? {} : { body: { email: 'x@example.test', password: 'wrong-password' } }),
        });
        expectClientError(res, `${method} ${path} with X-Forwarded-For ${chain.slice(0, 40)}`);
      }
    }
  });

  it('answers an Upgrade header on every route with 400 VALIDATION_FAILED (issue 11)', async () => {
    for (const { method, path } of OPERATIONS) {
      for (const upgrade of ['websocket', 'h2c']) {
        const res = await upgradeRequest(api.url, method, target(path), upgrade);
        expect(res.status, `${method} ${path} upgrade ${upgrade}`).to.equal(400);
        expect(res.body.error.code).to.equal('VALIDATION_FAILED');
      }
    }
  });

  it('still has its tables after the SQL-looking strings', async () => {
    const res = await api.call('GET', '/v1/me', { token: trainee.token });
    expect(res.status).to.equal(200);
  });

  it('answers unknown routes and wrong methods with the 404 envelope', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/v1/nope'],
      ['PUT', '/v1/sessions'],
      ['DELETE', `/v1/sessions/${sessionId}`],
    ]) {
      const res = await api.call(method, path, { token: trainee.token });
      expect(res.status, `${method} ${path}`).to.equal(404);
      expect(res.body.error.code).to.equal('NOT_FOUND');
    }
  });

  it('echoes a sane x-request-id and replaces an insane one', async () => {
    const kept = await api.call('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers.get('x-request-id')).to.equal('abc-123');
    const replaced = await api.call('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });
});
