import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Permissions } from '../../src/nats-permissions.js';

export interface ServerUser {
  user: string;
  password: string;
  /** Absent: every subject (the operators' user). */
  permissions?: Permissions;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

/**
 * nats.conf for a private server: JetStream on, and the same `authorization { users }` the Helm values
 * render, with literal passwords instead of environment variables. Every string is quoted: an unquoted
 * `$JS...` would be read as a variable reference.
 */
export function natsConf(port: number, storeDir: string, users: ServerUser[]): string {
  return [
    `listen: ${JSON.stringify(`127.0.0.1:${port}`)}`,
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
    `authorization { users: ${JSON.stringify(users, null, 2)} }`,
  ].join('\n');
}

/** A `nats-server` (2.9.10 on the build box) on a free port with its own store and config, for one suite. */
export class PrivateNatsServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(users: ServerUser[]): Promise<PrivateNatsServer> {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'pulse-k8s-nats-'));
    const conf = path.join(dir, 'nats.conf');
    writeFileSync(conf, natsConf(port, path.join(dir, 'js'), users));
    let stderr = '';
    const child = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (err) => reject(new Error(`nats-server could not start (is it on PATH?): ${err}`))),
    );
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (await Promise.race([portOpen(port), spawnError])) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`nats-server did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return new PrivateNatsServer(port, dir, child);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const gone = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
