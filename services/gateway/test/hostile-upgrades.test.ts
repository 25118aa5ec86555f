import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { WebSocket } from 'ws';
import { CloseCode, ErrorCode, LIVE_PATH } from '@pulse/contracts';
import { DEV_ACCESS_SECRET } from '@pulse/runtime';
import {
  type NatsWorld,
  SECRET,
  TestClient,
  sessionSnapshot,
  signTicket,
  type RunningGateway,
} from './harness.js';
import { Opcode, RawClient, UPGRADE_HEADERS, wireFrame } from './raw-client.js';
import type { WellBehaved } from './well-behaved.js';
import { beside } from './well-behaved.js';

const base64url = (json: object) => Buffer.from(JSON.stringify(json)).toString('base64url');
/** A JWT with the given header and payload and a made-up or empty signature. */
const unsignedJwt = (header: object, payload: object, signature = '') =>
  `${base64url(header)}.${base64url(payload)}.${signature}`;

/** An access token as the API issues it (its own secret and audience), not a join ticket. */
const accessToken = (secret = DEV_ACCESS_SECRET) =>
  jwt.sign({ role: 'trainee', iat: Math.floor(Date.now() / 1000) }, secret, {
    algorithm: 'HS256',
    issuer: 'pulse-api',
    audience: 'pulse-api',
    subject: randomUUID(),
    expiresIn: 900,
  });

/** The status and error envelope of an HTTP answer read off a raw socket. */
async function refusal(client: RawClient): Promise<{ status: string; code: unknown; head: string }> {
  await client.closed;
  const status = client.httpHead.split('\r\n')[0];
  const body = client.httpBody;
  const code = body === '' ? null : (JSON.parse(body) as { error: { code: unknown } }).error.code;
  return { status, code, head: client.httpHead };
}

describe('Hostile clients: upgrades and plain requests at the gateway port', () => {
  let world: NatsWorld;
  let gw: RunningGateway;
  /** A trainee of the same live session, rating and ranked after every test. */
  let trainee: WellBehaved;
  const cleanups: Array<() => void> = [];
  beside(cleanups, (started) => ({ world, gw, trainee } = started));

  /** Expects the documented refusal of a ticket: one `error` UNAUTHENTICATED, then close 4401. */
  async function expectUnauthorized(query: string): Promise<void> {
    const client = new TestClient(new WebSocket(`${gw.url}?${query}`));
    cleanups.push(() => client.close());
    const what = query.slice(0, 80);
    expect(await client.next(() => true), what).to.include({
      type: 'error',
      code: ErrorCode.UNAUTHENTICATED,
    });
    expect((await client.closed).code, what).to.equal(CloseCode.UNAUTHORIZED);
    expect(client.frames, what).to.have.length(1);
  }

  it('refuses malformed ticket query strings with UNAUTHENTICATED and 4401', async () => {
    const valid = trainee.ticket();
    const queries = [
      'ticket=',
      'ticket',
      `Ticket=${valid}`,
      `ticket[]=${valid}`,
      'ticket=%zz%00%ff',
      `ticket=${valid}%00`,
      // The signature's second-to-last character replaced by another (the last one carries padding bits).
      `ticket=${valid.slice(0, -2)}${valid.at(-2) === 'A' ? 'B' : 'A'}${valid.slice(-1)}`,
      `ticket=${'a'.repeat(12_000)}`,
      `ticket=${valid}.${valid}`,
    ];
    for (const query of queries) await expectUnauthorized(query);
    await trainee.rateAndRank();
  });

  it('refuses a query with more than one ticket, whichever of them is valid (the first one used to count)', async () => {
    const [valid, other] = [trainee.ticket(), trainee.ticket()];
    for (const query of [
      `ticket=${valid}&ticket=garbage`,
      `ticket=garbage&ticket=${valid}`,
      `ticket=${valid}&ticket=${valid}`,
      `ticket=${valid}&ticket=${other}`,
    ]) {
      await expectUnauthorized(query);
    }
    await trainee.rateAndRank();
  });

  it('refuses forged, tampered, not yet valid, foreign-algorithm and access tokens with 4401', async () => {
    const claims = jwt.decode(trainee.ticket()) as Record<string, unknown>;
    const [header, payload, signature] = trainee.ticket().split('.');
    const otherSession = { ...claims, sid: randomUUID() };
    const tokens = [
      `${header}.${base64url(otherSession)}.${signature}`, // another session's id under this signature
      `${header}.${payload}.`,
      unsignedJwt({ alg: 'none', typ: 'JWT' }, claims, signature),
      unsignedJwt({ alg: 'HS256', typ: 'JWT' }, claims),
      jwt.sign(claims, SECRET, { algorithm: 'HS512' }),
      jwt.sign({ ...claims, nbf: Math.floor(Date.now() / 1000) + 600 }, SECRET),
      unsignedJwt({ alg: 'RS256', typ: 'JWT' }, claims, signature),
      accessToken(),
      accessToken(SECRET), // even if an operator gave both the same secret
    ];
    for (const token of tokens) await expectUnauthorized(`ticket=${encodeURIComponent(token)}`);
    await trainee.rateAndRank();
  });

  it('survives a refused or closed-session socket that sends a broken frame before its close handshake ends', async () => {
    const ended = sessionSnapshot('ended');
    await world.publishEvent(ended, 'ended');
    const expired = (sessionId: string) => signTicket({ sessionId }, { expiresIn: -10 });
    const notUtf8 = wireFrame(Opcode.TEXT, Buffer.from([0xff]));
    const cases: Array<[string, string, Buffer, CloseCode]> = [
      ['a forged ticket', 'ticket=forged', notUtf8, CloseCode.UNAUTHORIZED],
      ['a forged ticket', 'ticket=forged', wireFrame(Opcode.CONTINUATION, 'x'), CloseCode.UNAUTHORIZED],
      ['two tickets', `ticket=a&ticket=${trainee.ticket()}`, notUtf8, CloseCode.UNAUTHORIZED],
      // Answered after a NATS lookup: the broken frame is read first.
      [
        'an expired ticket, live session',
        `ticket=${expired(trainee.sessionId)}`,
        notUtf8,
        CloseCode.INVALID_PAYLOAD,
      ],
      ['an expired ticket, ended session', `ticket=${expired(ended.id)}`, notUtf8, CloseCode.INVALID_PAYLOAD],
      [
        'an expired ticket, ended session',
        `ticket=${expired(ended.id)}`,
        wireFrame(Opcode.TEXT, '{}', { mask: false }),
        CloseCode.PROTOCOL_ERROR,
      ],
    ];
    const clients = cases.map(([, query, frame]) => RawClient.upgrade(gw, query, frame));
    cleanups.push(() => clients.forEach((c) => c.drop()));
    for (const [i, [what, , , code]] of cases.entries()) {
      expect(await clients[i].closeCode(), what).to.equal(code);
    }
    await trainee.rateAndRank();
  });

  const raw = (request: string) => {
    const client = RawClient.send(gw, request);
    cleanups.push(() => client.drop());
    return client;
  };
  const ticket = () => `ticket=${trainee.ticket()}`;

  it('answers upgrades that are no WebSocket handshake with 400 and the error envelope', async () => {
    const upgrade = (headers: string) =>
      `GET ${LIVE_PATH}?${ticket()} HTTP/1.1\r\nHost: gateway\r\n${headers}\r\n`;
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    for (const headers of [
      'Upgrade: h2c\r\nConnection: Upgrade\r\n',
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n',
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n`,
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 7\r\n${key}`,
      `Upgrade: websocket\r\nConnection: Upgrade\r\n${key}`,
      `${UPGRADE_HEADERS}Sec-WebSocket-Protocol: a b,,\r\n`,
    ]) {
      const answer = await refusal(raw(upgrade(headers)));
      expect(answer, headers).to.include({
        status: 'HTTP/1.1 400 Bad Request',
        code: ErrorCode.VALIDATION_FAILED,
      });
      expect(answer.head, headers).to.match(/\r\nSec-WebSocket-Version: 13\r\n/i);
    }
    await trainee.rateAndRank();
  });

  it('answers upgrades with another method than GET, and CONNECT, with 404 and the error envelope', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const request = `${method} ${LIVE_PATH}?${ticket()} HTTP/1.1\r\nHost: gateway\r\n${UPGRADE_HEADERS}Content-Length: 0\r\n\r\n`;
      const answer = await refusal(raw(request));
      expect(answer, method).to.include({ status: 'HTTP/1.1 404 Not Found', code: ErrorCode.NOT_FOUND });
    }
    const connect = await refusal(raw('CONNECT 127.0.0.1:4222 HTTP/1.1\r\nHost: 127.0.0.1:4222\r\n\r\n'));
    expect(connect).to.include({ status: 'HTTP/1.1 404 Not Found', code: ErrorCode.NOT_FOUND });
    await trainee.rateAndRank();
  });

  it('answers a ticket beyond the header size limit with 400 and the error envelope', async () => {
    const request = `GET ${LIVE_PATH}?ticket=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: gateway\r\n${UPGRADE_HEADERS}\r\n`;
    const answer = await refusal(raw(request));
    expect(answer).to.include({ status: 'HTTP/1.1 400 Bad Request', code: ErrorCode.VALIDATION_FAILED });
    await trainee.rateAndRank();
  });

  it('answers plain requests: GET /v1/live without an upgrade with 400, other methods with 404, and keeps health and metrics', async () => {
    const live = await fetch(`${gw.httpUrl}${LIVE_PATH}?${ticket()}`);
    expect(live.status).to.equal(400);
    expect(((await live.json()) as { error: { code: string } }).error.code).to.equal(
      ErrorCode.VALIDATION_FAILED,
    );
    for (const path of [LIVE_PATH, '/healthz', '/readyz', '/metrics']) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) {
        const res = await fetch(`${gw.httpUrl}${path}`, {
          method,
          body: method === 'POST' ? 'x'.repeat(10_000) : undefined,
        });
        expect(res.status, `${method} ${path}`).to.equal(404);
        if (method !== 'HEAD') {
          expect(((await res.json()) as { error: { code: string } }).error.code).to.equal(
            ErrorCode.NOT_FOUND,
          );
        }
      }
    }
    for (const path of ['/healthz', '/readyz', '/metrics'])
      expect((await fetch(`${gw.httpUrl}${path}`)).status, path).to.equal(200);
    expect(await (await fetch(`${gw.httpUrl}/metrics`)).text()).to.match(
      /^pulse_gateway_open_connections\{/m,
    );
    await trainee.rateAndRank();
  });
});
