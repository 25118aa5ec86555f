import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const BIN = '/usr/lib/postgresql/15/bin';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const asPostgres = (cmd: string, args: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', path.join(BIN, cmd), ...args], { stdio: 'pipe' });

/** A private PostgreSQL 15 cluster (initdb + pg_ctl as user postgres) on its own port, trust auth. */
export class PostgresCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/pulse`;
  }

  static async create(): Promise<PostgresCluster> {
    const root = mkdtempSync(path.join(tmpdir(), 'pulse-fault-pg-'));
    chmodSync(root, 0o755);
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(root, uid, gid);
    const cluster = new PostgresCluster(root, await freePort());
    asPostgres('initdb', ['-D', path.join(root, 'data'), '-U', 'postgres', '--auth=trust']);
    cluster.start();
    execFileSync(
      'psql',
      ['-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '-c', 'CREATE DATABASE pulse'],
      {
        stdio: 'pipe',
      },
    );
    return cluster;
  }

  start(): void {
    const opts = `-p ${this.port} -k /tmp -c listen_addresses=127.0.0.1`;
    asPostgres('pg_ctl', [
      '-D',
      path.join(this.dir, 'data'),
      '-o',
      opts,
      '-l',
      path.join(this.dir, 'log'),
      '-w',
      'start',
    ]);
  }

  /** `pg_ctl stop -m fast`: open connections are cut. */
  stop(): void {
    asPostgres('pg_ctl', ['-D', path.join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  }

  destroy(): void {
    try {
      this.stop();
    } catch {
      // not running
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
