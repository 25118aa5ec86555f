import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { waitFor } from './ports.js';

export type ServiceKind = 'api' | 'gateway' | 'live-engine';

export interface ServiceSpec {
  /** Unique within the stack, e.g. `gateway-1`. */
  name: string;
  kind: ServiceKind;
  port: number;
  env: Record<string, string>;
  /** Extra node flags before the entry (e.g. `--cpu-prof --cpu-prof-dir <dir>`). */
  nodeArgs?: string[];
}

const STOP_GRACE_MS = 15_000;
const READY_TIMEOUT_MS = 30_000;

/** One service child process: `node --enable-source-maps services/<kind>/dist/src/main.js`, logs to a file. */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | string> = Promise.resolve('not started');
  private log: WriteStream | undefined;

  constructor(
    readonly spec: ServiceSpec,
    private readonly root: string,
    readonly logFile: string,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }
  get running(): boolean {
    return this.pid !== undefined;
  }

  /** Spawns the process and resolves once GET /readyz answers 200. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    this.log.write(`--- ${new Date().toISOString()} start ${this.spec.name} on port ${this.spec.port}\n`);
    const entry = path.join(this.root, 'services', this.spec.kind, 'dist/src/main.js');
    const child = spawn(process.execPath, ['--enable-source-maps', ...(this.spec.nodeArgs ?? []), entry], {
      cwd: this.root,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.log?.write(`--- ${new Date().toISOString()} ${this.spec.name} exited (${signal ?? code})\n`);
        resolve(signal ?? code ?? 'unknown');
      });
    });
    const exitedEarly = this.exited.then((how) => {
      throw new Error(`${this.spec.name} exited (${how}) before it was ready; log:\n${this.tail(30)}`);
    });
    await Promise.race([exitedEarly, this.waitReady()]);
    exitedEarly.catch(() => undefined);
  }

  private async waitReady(): Promise<void> {
    await waitFor(
      `${this.spec.name} /readyz`,
      async () => {
        if (!this.running) return undefined;
        const res = await fetch(`${this.baseUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        return res.status === 200 ? true : undefined;
      },
      READY_TIMEOUT_MS,
    );
  }

  /** SIGKILL: the crash case. Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
    await this.closeLog();
  }

  /** SIGTERM: a graceful stop (readyz 503, drain, exit 0); SIGKILL after a grace period. */
  async stop(graceMs = STOP_GRACE_MS): Promise<number | string> {
    if (!this.running) return 'not running';
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const how = await this.exited;
    clearTimeout(timer);
    await this.closeLog();
    return how;
  }

  private closeLog(): Promise<void> {
    const log = this.log;
    this.log = undefined;
    return new Promise((resolve) => (log ? log.end(resolve) : resolve()));
  }

  /** The last `lines` lines of this process's log file. */
  tail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
