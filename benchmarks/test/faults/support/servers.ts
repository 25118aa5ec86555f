import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:net';
import { REPO_ROOT } from '../../../src/stack.js';
import { freePort, sleep, waitFor } from '../../../src/stack/ports.js';

export { freePort, sleep, waitFor };

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

/** A private `nats-server -js` on its own port and store folder, stopped and restarted by fault tests. */
export class NatsServer {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), mkdtempSync(path.join(tmpdir(), 'pulse-fault-nats-')));
    await server.restart();
    return server;
  }

  /** Starts the server (again) on the same port and store folder; resolves once it accepts connections. */
  async restart(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir];
    this.child = spawn('nats-server', args, { stdio: 'ignore' });
    await waitFor('nats-server', async () => ((await portOpen(this.port)) ? true : undefined), 15_000, 50);
  }

  /** SIGTERM (graceful) or SIGKILL; resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await gone;
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/** A private ClickHouse (scripts/clickhouse-server.sh) with its own ports and folder. */
export class ClickHouseServer {
  private pid: number | undefined;
  private constructor(
    readonly dir: string,
    readonly httpPort: number,
    readonly tcpPort: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  static async start(): Promise<ClickHouseServer> {
    const dir = mkdtempSync(path.join(tmpdir(), 'pulse-fault-ch-'));
    chmodSync(dir, 0o755);
    const server = new ClickHouseServer(dir, await freePort(), await freePort());
    await server.restart();
    return server;
  }

  async restart(): Promise<void> {
    const script = path.join(REPO_ROOT, 'scripts/clickhouse-server.sh');
    const out = execFileSync('bash', [script, this.dir, String(this.httpPort), String(this.tcpPort)]);
    this.pid = Number(String(out).trim());
    await waitFor(
      'clickhouse /ping',
      async () => {
        const res = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        return res.ok ? true : undefined;
      },
      30_000,
      100,
    );
  }

  /** The clickhouse-server process itself (the script's pid may be the runuser wrapper). */
  private serverPids(): number[] {
    const pids: number[] = [];
    const walk = (pid: number) => {
      pids.push(pid);
      for (const tid of safeList(`/proc/${pid}/task`)) {
        const children = safeRead(`/proc/${pid}/task/${tid}/children`).trim();
        for (const c of children ? children.split(/\s+/) : []) walk(Number(c));
      }
    };
    if (this.pid !== undefined) walk(this.pid);
    return pids.filter((p) => safeRead(`/proc/${p}/comm`).trim() !== '');
  }

  /** SIGSTOP: the server freezes with its sockets open, so requests hang in flight. */
  freeze(): void {
    for (const pid of this.serverPids()) process.kill(pid, 'SIGSTOP');
  }

  thaw(): void {
    for (const pid of this.serverPids()) process.kill(pid, 'SIGCONT');
  }

  /** Stops the server and waits until its port is closed. */
  async stop(): Promise<void> {
    const pids = this.serverPids();
    for (const pid of pids.reverse()) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.pid = undefined;
    await waitFor(
      'clickhouse to stop',
      async () => ((await portOpen(this.httpPort)) ? undefined : true),
      15_000,
      50,
    );
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
