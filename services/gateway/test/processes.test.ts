import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { CloseCode, PresenceBeat } from '@pulse/contracts';
import { NatsWorld, TestClient, signTicket, type RunningGateway } from './harness.js';

/** The gateway's JSON log lines as they come, and a wait for one that matches. */
class LogLines {
  readonly lines: Array<Record<string, unknown>> = [];
  private waiters: Array<() => void> = [];

  constructor(child: { stdout: Readable }) {
    let rest = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (rest + String(chunk)).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        if (line.startsWith('{')) this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  matching(msg: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.msg === msg);
  }

  async until(msg: string, count: number, timeoutMs = 20_000): Promise<Array<Record<string, unknown>>> {
    const deadline = Date.now() + timeoutMs;
    while (this.matching(msg).length < count) {
      if (Date.now() > deadline) throw new Error(`no ${count}× "${msg}" in ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
    return this.matching(msg);
  }
}

async function openConnections(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('pulse_gateway_open_connections'));
  return Number(line?.split(' ').at(-1));
}

describe('Several gateway processes on one port (GATEWAY_PROCESSES, issue 12)', function () {
  this.timeout(60_000);
  let world: NatsWorld;

  before(async () => {
    world = await NatsWorld.start();
  });
  after(() => world.stop());

  it('shares the port among its workers, sums their metrics, replaces a dead worker and stops them all on SIGTERM', async () => {
    const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
    const child = spawn(process.execPath, [main], {
      env: {
        ...process.env,
        GATEWAY_PROCESSES: '2',
        GATEWAY_PORT: '0',
        GATEWAY_ID: undefined, // each worker is `<hostname>-<pid>`
        NATS_NAMESPACE: world.names.namespace,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const log = new LogLines(child);
      const started = await log.until('gateway process listening', 2);
      const port = Number((await log.until('gateway listening', 2))[0].port);
      const ids = new Set(log.matching('gateway listening').map((l) => l.gatewayId));
      expect(ids.size, 'each worker is its own gateway').to.equal(2);

      const gw = { url: `ws://127.0.0.1:${port}/v1/live` } as RunningGateway;
      const httpUrl = `http://127.0.0.1:${port}`;
      const sessionId = randomUUID();
      // Each worker's presence beats say how many of the session's clients it holds.
      const held = new Map<string, number>();
      const beats = world.nc.subscribe(world.names.presence(sessionId), {
        callback: (_err, msg) => {
          const beat = PresenceBeat.parse(msg.json());
          held.set(beat.gatewayId, beat.connected);
        },
      });
      // One after the other: the primary hands each new connection to the next worker.
      const clients: TestClient[] = [];
      for (let i = 0; i < 4; i++) {
        const client = TestClient.open(gw, signTicket({ sessionId, userId: randomUUID() }));
        await client.next('welcome');
        clients.push(client);
      }
      // Any worker's /metrics counts all 4.
      expect(await openConnections(httpUrl)).to.equal(4);
      expect(await openConnections(httpUrl)).to.equal(4);
      for (const until = Date.now() + 10_000; sum(held) !== 4 && Date.now() < until;) await sleep(50);
      beats.unsubscribe();
      expect(sum(held), JSON.stringify([...held])).to.equal(4);
      expect(
        [...held.values()].every((n) => n > 0),
        'both workers hold clients',
      ).to.equal(true);

      const victim = started.find((l) => l.worker === 1)!;
      const victimId = [...held.keys()].find((id) => id.endsWith(`-${String(victim.pid)}`))!;
      const victimHeld = held.get(victimId)!;
      const cut: boolean[] = clients.map(() => false);
      clients.forEach((c, i) => void c.closed.then(() => (cut[i] = true)));
      process.kill(Number(victim.pid), 'SIGKILL');
      // The dead worker's clients lose their sockets; the other worker's stay connected.
      for (
        const until = Date.now() + 15_000;
        cut.filter(Boolean).length < victimHeld && Date.now() < until;
      ) {
        await sleep(50);
      }
      await sleep(300);
      expect(cut.filter(Boolean)).to.have.length(victimHeld);
      const after = await log.until('gateway process listening', 3);
      expect(after.at(-1)).to.include({ worker: 1 });
      expect(after.at(-1)!.pid).to.not.equal(victim.pid);

      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const survivors = clients.filter((_c, i) => !cut[i]);
      for (const c of survivors) expect((await c.closed).code).to.equal(CloseCode.RECONNECT);
      expect((await exited)[0]).to.equal(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('stops with the exit code of a worker that could not start', async () => {
    const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
    const child = spawn(process.execPath, [main], {
      env: {
        ...process.env,
        GATEWAY_PROCESSES: '2',
        GATEWAY_PORT: '0',
        NATS_URL: 'nats://127.0.0.1:1',
        NATS_NAMESPACE: world.names.namespace,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).to.not.equal(0);
    expect(code).to.not.equal(null);
  });
});

describe('A gateway whose port is taken (a stack’s services on free ports)', function () {
  this.timeout(60_000);
  let world: NatsWorld;
  let holder: Server;
  let port: number;

  before(async () => {
    world = await NatsWorld.start();
    holder = createServer((socket) => socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => holder.listen(0, resolve));
    port = (holder.address() as { port: number }).port;
  });
  after(async () => {
    holder.close();
    await world.stop();
  });

  // It once logged the error as uncaught and ran on without listening, while the process holding its port
  // answered its /readyz and its clients' upgrades.
  for (const processes of ['1', '2']) {
    it(`exits with 1 and says which port (GATEWAY_PROCESSES=${processes})`, async () => {
      const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
      const child = spawn(process.execPath, [main], {
        env: {
          ...process.env,
          GATEWAY_PROCESSES: processes,
          GATEWAY_PORT: String(port),
          NATS_NAMESPACE: world.names.namespace,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).to.equal(1);
      expect(stderr).to.include(`cannot listen on port ${port}: EADDRINUSE`);
    });
  }
});

const sleep = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms));
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
