import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import WebSocket from 'ws';
import { SCORE_ALLOWANCE, type ServerFrame } from '@pulse/contracts';
import { PulseClient, type WebSocketLike } from '@pulse/sdk';

/**
 * Pulse as a new user runs it: `npm start`'s stack (scripts/stack.mjs) with an EMPTY environment, then the
 * contract's flow — a trainer starts a class, trainees join and stream, ranks come back, results match what
 * was sent — and the attacks of issue 11 against the same default stack. Two services with different
 * defaults once closed every socket of such a stack with 4401; nothing else in the suite ran it.
 *
 * The trainer and the honest trainee are @pulse/sdk clients (issue 15: one client implementation); the
 * attackers stay raw sockets and raw bytes, since they test the door, not a client.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const API = 'http://127.0.0.1:3000';
const GATEWAY = 'http://127.0.0.1:8080';
const ENGINE = 'http://127.0.0.1:8090';

/** A new account signed in through the SDK, with its user id. */
async function account(role: 'trainer' | 'trainee', name: string) {
  const client = new PulseClient({ baseUrl: API });
  const { user } = await client.signUp({
    email: `${role}-${randomUUID()}@e2e.pulse.test`,
    password: 'correct horse battery',
    name,
    role,
  });
  return { client, userId: user.id };
}

/** Node sockets for the SDK's live session (browsers use their global WebSocket). */
const nodeWebSocket = (url: string) => new WebSocket(url) as unknown as WebSocketLike;

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A raw device for the attacks: one socket, its frames, and the ability to await one. */
class Device {
  readonly frames: ServerFrame[] = [];
  readonly closed: Promise<number>;
  closeCode: number | null = null;
  private readonly ws: WebSocket;

  constructor(gatewayUrl: string, ticket: string) {
    this.ws = new WebSocket(`${gatewayUrl}?ticket=${encodeURIComponent(ticket)}`);
    this.ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as ServerFrame));
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code) => {
        this.closeCode = code;
        resolve(code);
      }),
    );
  }

  frame<T extends ServerFrame['type']>(
    type: T,
    match: (f: Extract<ServerFrame, { type: T }>) => boolean = () => true,
  ) {
    return until(`a ${type} frame`, async () =>
      this.frames.find((f): f is Extract<ServerFrame, { type: T }> => f.type === type && match(f as never)),
    );
  }

  rate(seq: number, energy: number): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'rating', seq, energy }));
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Sends raw bytes and resolves with the first line of the answer ('' when the server closed silently). */
function rawStatusLine(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const done = () => {
      socket.destroy();
      resolve(answer.split('\r\n')[0]);
    };
    socket.setTimeout(3_000, done);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done();
    });
    socket.on('close', done);
    socket.on('error', done);
  });
}

describe('The default stack, as `npm start` runs it with an empty environment (issue 11)', function () {
  this.timeout(180_000);
  let stack: ChildProcess;
  let output = '';

  before(async () => {
    for (const url of [API, GATEWAY, ENGINE]) {
      const taken = await fetch(`${url}/healthz`).then(
        () => true,
        () => false,
      );
      if (taken) throw new Error(`${url} already answers: stop the running stack before this test`);
    }
    stack = spawn(process.execPath, [path.join(root, 'scripts/stack.mjs')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.stdout!.on('data', (d) => (output += String(d)));
    stack.stderr!.on('data', (d) => (output += String(d)));
    for (const url of [API, GATEWAY, ENGINE]) {
      await until(
        `${url}/readyz`,
        async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined),
        90_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n--- stack output ---\n${output.slice(-4_000)}`);
      });
    }
  });

  after(async () => {
    if (!stack || stack.exitCode !== null) return;
    const exited = new Promise((resolve) => stack.once('exit', resolve));
    stack.kill('SIGINT');
    await exited;
  });

  it('runs a class: welcome, live ranks, and results equal to what each device sent, while attacked', async () => {
    const trainer = (await account('trainer', 'Coach')).client;
    const created = await trainer.createSession({
      title: 'Default stack class',
      type: 'hiit',
      startsAt: new Date(Date.now() + 60_000).toISOString(),
      durationMinutes: 30,
      capacity: 10,
    });
    const sessionId = created.id;
    const honest = await account('trainee', 'Honest');
    const cheater = await account('trainee', 'Cheater');
    for (const t of [honest, cheater])
      expect((await t.client.register(sessionId)).status).to.equal('registered');

    // The honest trainee waits in the waiting room, then is moved in when the class starts.
    const device = honest.client.live(sessionId, { webSocket: nodeWebSocket });
    expect((await device.start()).state).to.equal('waiting');
    expect((await trainer.startSession(sessionId)).status).to.equal('live');
    await until('the honest device live', async () => (device.state === 'live' ? true : undefined));

    // Hostile request targets on both ports while the class runs (issue 11: one of these killed the gateway).
    for (const port of [3000, 8080]) {
      for (const target of ['//', '//:99999/v1/live', '//[/../v1/live']) {
        for (const upgrade of ['', 'Upgrade: websocket\r\nConnection: Upgrade\r\n']) {
          const line = await rawStatusLine(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`);
          expect(line, `port ${port} GET ${target}`).to.match(/^HTTP\/1\.1 4\d\d /);
        }
      }
    }

    // The cheater: several sockets at once (each its own ticket), then reconnecting in a loop, each time
    // bursting as many ratings as the gateway lets through.
    const attackStartedAt = Date.now();
    let cheaterSeq = 0;
    const burst = (d: Device) => {
      for (let i = 0; i < 150; i++) d.rate(++cheaterSeq, 100);
    };
    const parallel = await Promise.all([1, 2, 3, 4, 5].map(() => cheater.client.join(sessionId)));
    const sockets = parallel.map((j) => new Device(j.gatewayUrl, j.ticket));
    await until('the five sockets welcomed', async () =>
      sockets.every((d) => d.frames.some((f) => f.type === 'welcome') || d.closeCode !== null)
        ? true
        : undefined,
    );
    for (const d of sockets) burst(d);
    // One live socket per trainee: the newest stays, the four others were replaced (4409).
    await until('four sockets replaced', async () =>
      sockets.filter((d) => d.closeCode === 4409).length === 4 ? true : undefined,
    );
    const survivor = sockets.find((d) => d.closeCode === null)!;
    expect(survivor, 'one socket stays open').to.not.equal(undefined);

    // Meanwhile the honest device streams one rating a second (the SDK numbers and resends them).
    const honestEnergies = [40, 55.5, 61, 72.25, 38, 90];
    const honestLoop = (async () => {
      for (const energy of honestEnergies) {
        device.rate(energy);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    })();
    for (let round = 0; round < 8; round++) {
      const j = await cheater.client.join(sessionId);
      const d = new Device(j.gatewayUrl, j.ticket);
      await d.frame('welcome');
      burst(d);
      await new Promise((r) => setTimeout(r, 150));
      d.close();
    }
    survivor.close();
    await honestLoop;
    const attackSeconds = (Date.now() - attackStartedAt) / 1000;

    // A ticket stops working once its trainee unregisters (the API's outbox tells the gateways).
    // (Raw sockets: the SDK would ask for a new ticket on 4401; this checks the gateway's door.)
    const leaver = (await account('trainee', 'Leaver')).client;
    await leaver.register(sessionId);
    const leaverJoin = await leaver.join(sessionId);
    const leaverDevice = new Device(leaverJoin.gatewayUrl, leaverJoin.ticket);
    await leaverDevice.frame('welcome');
    await leaver.unregister(sessionId);
    expect(await leaverDevice.closed).to.equal(4401);
    const stale = new Device(leaverJoin.gatewayUrl, leaverJoin.ticket);
    expect(await stale.closed).to.equal(4401);

    // The honest device's rank frame counts all its ratings.
    const honestScore = honestEnergies.reduce((a, b) => a + b, 0);
    const rank = await until('a rank counting every honest rating', async () =>
      device.rank?.score === honestScore ? device.rank : undefined,
    );
    expect(rank.participants).to.be.oneOf([2, 3]); // the leaver joined the board before leaving
    expect(device.outbox.unconfirmed).to.deep.equal([]);

    expect((await trainer.endSession(sessionId)).status).to.equal('ended');
    // `ended` is the SDK's end state for the `ended` frame followed by close 4410.
    expect(await device.done).to.deep.include({ state: 'ended', closeCode: 4410 });
    const results = await until(
      'frozen results',
      async () => {
        const res = await honest.client.results(sessionId); // 202 RESULTS_PENDING throws until frozen
        return res.final && res.me?.score === honestScore ? res : undefined;
      },
      60_000,
    );
    expect(results.me!.score).to.equal(honestScore);
    const cheaterRow = results.leaderboard.items.find((row) => row.userId === cheater.userId);
    const limit = (SCORE_ALLOWANCE.burst + Math.ceil(SCORE_ALLOWANCE.ratePerSec * attackSeconds)) * 100;
    expect(cheaterRow, 'the cheater is on the board').to.not.equal(undefined);
    expect(cheaterRow!.score, `sent ${cheaterSeq} ratings of 100 in ${attackSeconds} s`).to.be.at.most(limit);
    expect(cheaterRow!.score).to.be.greaterThan(0);

    // Both services kept serving throughout, and the stack is still up.
    expect((await fetch(`${API}/healthz`)).status).to.equal(200);
    expect((await fetch(`${GATEWAY}/healthz`)).status).to.equal(200);
    expect(stack.exitCode).to.equal(null);
  });
});
