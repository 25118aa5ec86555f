import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { expect } from 'chai';
import WebSocket from 'ws';
import { CloseCode, ErrorCode } from '@pulse/contracts';
import {
  NatsWorld,
  TestClient,
  sessionSnapshot,
  signTicket,
  startGateway,
  type RunningGateway,
} from './harness.js';

/** Sends raw bytes and resolves with the server's first answer (its status line at least), or ''. */
function raw(gw: RunningGateway, request: string, waitMs = 2_000): Promise<string> {
  const { port } = new URL(gw.httpUrl);
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done();
    });
    socket.on('close', done);
    socket.on('error', done);
  });
}

const UPGRADE =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Request targets that Node's parser accepts or refuses but no URL can be built from (issue 11). */
const HOSTILE_TARGETS = [
  '//',
  '//:99999/v1/live',
  '//[/../v1/live',
  '//[::1/v1/live',
  'http://[/v1/live',
  '*',
];

describe('The gateway door: hostile requests, socket caps, early frames (issue 11)', () => {
  let world: NatsWorld;
  let gw: RunningGateway;

  before(async () => {
    world = await NatsWorld.start();
    // Loopback is exempt from the per-address cap by default; these tests are the client from afar.
    gw = await startGateway(world, { MAX_SOCKETS_PER_ADDRESS: '3', ADDRESS_LIMIT_EXEMPT: '' });
  });
  after(async () => {
    await gw.gateway.close();
    await world.stop();
  });

  async function liveSession() {
    const session = sessionSnapshot('live');
    await world.publishEvent(session, 'started');
    return session;
  }

  for (const target of HOSTILE_TARGETS) {
    it(`answers GET ${target} with a 4xx, plain and as an upgrade, and keeps serving`, async () => {
      const session = await liveSession();
      const bystander = TestClient.open(gw, signTicket({ sessionId: session.id }));
      await bystander.next('welcome');
      const plain = await raw(gw, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const upgrade = await raw(gw, `GET ${target} HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
      for (const answer of [plain, upgrade]) expect(answer).to.match(/^HTTP\/1\.1 4\d\d /);
      expect((await fetch(`${gw.httpUrl}/healthz`)).status).to.equal(200);
      bystander.send({ type: 'ping' });
      await bystander.next('pong');
      bystander.close();
    });
  }

  it('answers a malformed request line and bad headers with 400 and keeps serving', async () => {
    for (const request of [
      'GARBAGE\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ]) {
      expect(await raw(gw, request)).to.match(/^HTTP\/1\.1 4\d\d /);
    }
    expect((await fetch(`${gw.httpUrl}/healthz`)).status).to.equal(200);
  });

  it('answers an unknown upgrade path with 404 and an unknown route with the error envelope', async () => {
    expect(await raw(gw, `GET /nope HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`)).to.match(/^HTTP\/1\.1 404 /);
    const res = await fetch(`${gw.httpUrl}/nope`);
    expect(res.status).to.equal(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).to.equal(ErrorCode.NOT_FOUND);
  });

  it('caps sockets per client address with 429 and frees the slot when a socket closes', async () => {
    const session = await liveSession();
    const held = [0, 1, 2].map(() => TestClient.open(gw, signTicket({ sessionId: session.id })));
    await Promise.all(held.map((c) => c.next('welcome')));
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${gw.url}?ticket=${signTicket({ sessionId: session.id })}`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    expect(status).to.equal(429);
    held[0].close();
    await held[0].closed;
    const after = TestClient.open(gw, signTicket({ sessionId: session.id }));
    await after.next('welcome');
    for (const c of [...held.slice(1), after]) c.close();
  });

  it('does not cap loopback by default (a load test on the machine itself)', async () => {
    const local = await startGateway(world, { MAX_SOCKETS_PER_ADDRESS: '2' });
    try {
      const session = await liveSession();
      const clients = [1, 2, 3, 4].map(() => TestClient.open(local, signTicket({ sessionId: session.id })));
      await Promise.all(clients.map((c) => c.next('welcome')));
      clients.forEach((c) => c.close());
    } finally {
      await local.gateway.close();
    }
  });

  it('ignores X-Forwarded-For unless proxies are trusted, then counts each forwarded client apart', async () => {
    const session = await liveSession();
    const open = (target: RunningGateway, forwardedFor: string) =>
      new TestClient(
        new WebSocket(`${target.url}?ticket=${signTicket({ sessionId: session.id })}`, {
          headers: { 'x-forwarded-for': forwardedFor },
        }),
      );
    const spoofed = [1, 2, 3, 4].map((i) => open(gw, `10.0.0.${i}`));
    const outcomes = await Promise.all(
      spoofed.map((c) =>
        c.next('welcome', 2_000).then(
          () => 'welcome',
          () => 'refused',
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'welcome')).to.have.length(3);
    spoofed.forEach((c) => c.close());

    const behindProxy = await startGateway(world, {
      MAX_SOCKETS_PER_ADDRESS: '1',
      TRUST_PROXY: '1',
      ADDRESS_LIMIT_EXEMPT: '',
    });
    try {
      const clients = [1, 2, 3].map((i) => open(behindProxy, `203.0.113.${i}`));
      await Promise.all(clients.map((c) => c.next('welcome')));
      clients.forEach((c) => c.close());
    } finally {
      await behindProxy.gateway.close();
    }
  });

  it('refuses a frame above 1 KiB before the welcome instead of buffering it', async () => {
    const session = await liveSession();
    const ws = new WebSocket(`${gw.url}?ticket=${signTicket({ sessionId: session.id })}`);
    const client = new TestClient(ws);
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'rating', seq: 1, energy: 5, pad: 'x'.repeat(4_000) }));
    ws.send(JSON.stringify({ type: 'ping' }));
    expect(await client.next('error')).to.include({ code: ErrorCode.INVALID_MESSAGE });
    await client.next('welcome');
    await client.next('pong');
    client.close();
  });

  it('closes a socket with 1012 when its welcome cannot be prepared in time', async () => {
    // The first client of a session waits up to a presence interval (100 ms here) for other gateways.
    const slow = await startGateway(world, { WELCOME_TIMEOUT_MS: '1' });
    try {
      const session = await liveSession();
      const client = TestClient.open(slow, signTicket({ sessionId: session.id, userId: randomUUID() }));
      expect(await client.next('error')).to.include({ code: ErrorCode.UNAVAILABLE });
      expect((await client.closed).code).to.equal(CloseCode.RECONNECT);
      expect(client.frames.some((f) => f.type === 'welcome')).to.equal(false);
    } finally {
      await slow.gateway.close();
    }
  });
});
