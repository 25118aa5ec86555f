import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expect } from 'chai';
import { natsNames } from '@pulse/contracts';
import { PostgresCluster } from './support/postgres.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const REQUEST_TIMEOUT_MS = 5_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('Fault 3: PostgreSQL down for 10 s', () => {
  let pg: PostgresCluster;
  let api: ChildProcess;
  let base: string;
  const tag = randomUUID().replace(/-/g, '').slice(0, 10);

  before(async () => {
    pg = await PostgresCluster.create();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        API_PORT: String(port),
        DATABASE_URL: pg.url,
        NATS_NAMESPACE: `f${tag}`,
        CLICKHOUSE_DB: `f_${tag}`,
        REDIS_KEY_PREFIX: `f${tag}:`,
        REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (i > 300) throw new Error('api did not become ready');
      await sleep(100);
    }
  });
  after(async () => {
    if (api && api.exitCode === null) {
      const gone = new Promise((resolve) => api.once('exit', resolve));
      api.kill('SIGKILL');
      await gone;
    }
    pg?.destroy();
    // The API created its streams and ClickHouse database on the shared servers: remove them.
    await fetch('http://127.0.0.1:8123/', { method: 'POST', body: `DROP DATABASE IF EXISTS f_${tag}` }).catch(
      () => 0,
    );
    const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
    const jsm = await jetstreamManager(nc);
    const names = natsNames(`f${tag}`);
    for (const stream of [names.ratingsStream, names.eventsStream])
      await jsm.streams.delete(stream).catch(() => false);
    await nc.close();
  });

  const register = (email: string) =>
    fetch(`${base}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'correct horse battery', name: 'Ana', role: 'trainee' }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS * 3),
    });
  const login = (email: string) =>
    fetch(`${base}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'correct horse battery' }),
    });

  it('answers 503 UNAVAILABLE within its request timeout, recovers without a restart, registers all or nothing', async () => {
    expect((await register(`a-${tag}@example.com`)).status).to.equal(201);
    const inFlightEmail = `b-${tag}@example.com`;
    const inFlight = register(inFlightEmail).then(
      (r) => r.status,
      () => 'no answer',
    );
    pg.stop();
    const downAt = Date.now();
    const answers: Array<{ status: number | string; code?: string; ms: number }> = [];
    while (Date.now() - downAt < 10_000) {
      const t0 = Date.now();
      const res = await register(`c-${randomUUID()}@example.com`).catch(() => null);
      const body = res ? ((await res.json().catch(() => ({}))) as { error?: { code?: string } }) : {};
      answers.push({ status: res?.status ?? 'no answer', code: body.error?.code, ms: Date.now() - t0 });
      await sleep(500);
    }
    const readyDuring = await fetch(`${base}/readyz`).then((r) => r.status);
    pg.start();
    const upAt = Date.now();
    let recoveredAt = 0;
    for (let i = 0; i < 300 && !recoveredAt; i++) {
      if ((await register(`d-${randomUUID()}@example.com`)).status === 201) recoveredAt = Date.now();
      else await sleep(100);
    }
    const inFlightStatus = await inFlight;
    const loginAfter = (await login(inFlightEmail)).status;
    const reRegister = (await register(inFlightEmail)).status;
    const figures = {
      answersWhileDown: answers.length,
      statuses: [...new Set(answers.map((a) => `${a.status} ${a.code ?? ''}`.trim()))],
      slowestAnswerMs: Math.max(...answers.map((a) => a.ms)),
      readyzWhileDown: readyDuring,
      secondsToRecover: recoveredAt ? (recoveredAt - upAt) / 1000 : null,
      inFlightRegistration: { status: inFlightStatus, loginAfter, reRegister },
    };
    console.log(`FAULT-FIGURES postgres-down ${JSON.stringify(figures)}`);
    for (const a of answers) {
      expect(a.status, JSON.stringify(a)).to.equal(503);
      expect(a.code).to.equal('UNAVAILABLE');
      expect(a.ms).to.be.below(REQUEST_TIMEOUT_MS + 1_000);
    }
    expect(readyDuring).to.equal(503);
    expect(recoveredAt).to.be.greaterThan(0);
    // All or nothing: stored (login works, a repeat is a conflict) or not at all (no login, a repeat creates it).
    if (inFlightStatus === 201) expect([loginAfter, reRegister]).to.deep.equal([200, 409]);
    else expect([loginAfter, reRegister]).to.deep.equal([401, 201]);
  });
});
