import { connect } from 'node:net';
import { expect } from 'chai';
import { TestApi } from './harness.js';

interface RawAnswer {
  /** The status of the first response, or null when the server closed without answering. */
  status: number | null;
  text: string;
}

/** Sends bytes on a fresh TCP socket and reads until the server closes it (or 3 s pass). */
function raw(url: string, request: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match ? Number(match[1]) : null, text });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, 3_000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') return; // the server hung up on us: a clean close for this test
      clearTimeout(timer);
      reject(err);
    });
    socket.write(request, 'latin1');
  });
}

const get = (target: string, headers = 'Host: api.example\r\n') =>
  `GET ${target} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`;
const WEBSOCKET =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Hostile request targets, headers and upgrades (issue 11: `GET //` crashed a gateway). */
const HOSTILE: [string, string][] = [
  ['GET //', get('//')],
  ['GET //:99999/v1/live', get('//:99999/v1/live')],
  ['GET //[/../v1/live', get('//[/../v1/live')],
  ['GET ///v1/me', get('///v1/me')],
  ['GET //evil.example/v1/me', get('//evil.example/v1/me')],
  ['absolute-form to a /v1 route', get('http://evil.example/v1/sessions')],
  ['absolute-form with a bad port', get('http://api.example:99999/v1/live')],
  ['absolute-form with a broken IPv6 host', get('http://[/../v1/live')],
  ['absolute-form with userinfo', get('http://user:pass@evil.example/v1/me')],
  ['GET *', get('*')],
  ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: api.example\r\nConnection: close\r\n\r\n'],
  ['a bad percent-encoding', get('/v1/sessions/%E0%A4%A')],
  ['an encoded traversal', get('/docs/..%2F..%2Fpackage.json')],
  ['a NUL in the target', get('/v1/me%00')],
  ['a 64 KiB target', get(`/v1/${'a'.repeat(65_536)}`)],
  ['Host: [', get('/v1/me', 'Host: [\r\n')],
  ['Host with a bad port', get('/v1/me', 'Host: api.example:99999\r\n')],
  ['an empty Host', get('/v1/me', 'Host: \r\n')],
  ['two Host headers', get('/v1/me', 'Host: a.example\r\nHost: b.example\r\n')],
  ['no Host at all', get('/v1/me', '')],
  ['a Host with spaces', get('/v1/me', 'Host: a b\r\n')],
  ['a control character in a header', get('/v1/me', 'Host: api.example\r\nX-Evil: a\x01b\r\n')],
  ['a WebSocket upgrade to /v1/live', `GET /v1/live HTTP/1.1\r\nHost: api.example\r\n${WEBSOCKET}\r\n`],
  ['a WebSocket upgrade to //', `GET // HTTP/1.1\r\nHost: api.example\r\n${WEBSOCKET}\r\n`],
  [
    'a WebSocket upgrade to //[/../v1/live',
    `GET //[/../v1/live HTTP/1.1\r\nHost: api.example\r\n${WEBSOCKET}\r\n`,
  ],
  ['a WebSocket upgrade to /healthz', `GET /healthz HTTP/1.1\r\nHost: api.example\r\n${WEBSOCKET}\r\n`],
  ['an unknown method', 'BREW /v1/me HTTP/1.1\r\nHost: api.example\r\nConnection: close\r\n\r\n'],
  ['HTTP/0.9', 'GET /\r\n\r\n'],
  ['not HTTP at all', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'],
];

describe('hostile request targets to the API (issue 11)', () => {
  let api: TestApi;
  before(async () => {
    api = await TestApi.start();
  });
  after(() => api.close());

  for (const [name, request] of HOSTILE) {
    it(`answers ${name} with a 4xx or a clean close, and keeps serving`, async () => {
      const answer = await raw(api.url, request);
      if (answer.status !== null) {
        expect(answer.status, answer.text.slice(0, 300)).to.be.within(400, 499);
      }
      const health = await api.call('GET', '/healthz');
      expect(health.status).to.equal(200);
    });
  }

  it('answers the targets that reach the app with the JSON error envelope', async () => {
    for (const target of ['//', '//:99999/v1/live', '//[/../v1/live', '*']) {
      const answer = await raw(api.url, get(target));
      expect(answer.status, target).to.equal(404);
      expect(answer.text, target).to.contain('"code":"NOT_FOUND"');
    }
  });

  it('refuses every upgrade with 400 VALIDATION_FAILED and closes the connection', async () => {
    for (const target of ['/v1/live', '/healthz', '//', '//[/../v1/live']) {
      const started = Date.now();
      const answer = await raw(api.url, `GET ${target} HTTP/1.1\r\nHost: api.example\r\n${WEBSOCKET}\r\n`);
      expect(answer.status, target).to.equal(400);
      expect(answer.text, target).to.contain('"code":"VALIDATION_FAILED"');
      expect(Date.now() - started, `${target}: the socket was left open`).to.be.below(2_000);
    }
  });

  it('answers a target that cannot be parsed with the JSON envelope, not a plain 500', async () => {
    const answer = await raw(api.url, get('http://[/../v1/live'));
    expect(answer.status).to.equal(400);
    expect(answer.text).to.contain('"code":"VALIDATION_FAILED"');
  });
});
