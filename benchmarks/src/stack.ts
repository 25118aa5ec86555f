import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIVE_PATH } from '@pulse/contracts';
import {
  DEFAULT_INFRA,
  dropIsolation,
  prepareIsolation,
  redisKeyPrefix,
  uniqueIsolation,
  type InfraUrls,
  type Isolation,
} from './stack/isolation.js';
import { freePorts } from './stack/ports.js';
import { ServiceProcess, type ServiceKind } from './stack/service-process.js';

/** The repository root, from benchmarks/dist/src/stack.js. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Shared by api (signs) and gateways (verify); a test-only value. */
export const STACK_JOIN_TICKET_SECRET = 'pulse-benchmarks-join-ticket-secret-0123456789abcdef';
/** The stack api's access-token secret (the live mode signs seeded trainees' tokens with it). */
export const STACK_ACCESS_SECRET = 'pulse-benchmarks-access-token-secret-0123456789abcdef';

/** What the harness talks to: a stack it started, or an existing deployment. */
export interface Target {
  readonly apiUrl: string;
  readonly gatewayUrls: readonly string[];
  /** Known only when the harness owns the storage names (local stack or flags). */
  readonly isolation?: Isolation;
  readonly infra: InfraUrls;
  /** Process ids to sample for CPU and RSS, by name. */
  pids(): Record<string, number>;
  /** HTTP base URLs (for /metrics) of the services, by name, when known. */
  serviceUrls(): Record<string, string>;
}

export interface LocalStackOptions {
  gateways?: number;
  engines?: number;
  infra?: Partial<InfraUrls>;
  isolation?: Isolation;
  /** Extra environment per service kind (e.g. `{ all: { MINUTE_MS: '2000' } }`: engines and gateways). */
  env?: Partial<Record<ServiceKind | 'all', Record<string, string>>>;
  logDir?: string;
  /** Extra node flags per service kind (e.g. `{ gateway: ['--cpu-prof', '--cpu-prof-dir', dir] }`). */
  nodeArgs?: Partial<Record<ServiceKind | 'all', string[]>>;
}

/**
 * api + N gateways + M engines as child processes on free ports, isolated by a unique NATS namespace,
 * PostgreSQL schema and ClickHouse database. `close()` stops them and drops all three.
 */
export class LocalStack implements Target {
  readonly infra: InfraUrls;
  readonly isolation: Isolation;
  readonly logDir: string;
  private readonly procs = new Map<string, ServiceProcess>();

  private constructor(private readonly options: LocalStackOptions) {
    this.infra = { ...DEFAULT_INFRA, ...options.infra };
    this.isolation = options.isolation ?? uniqueIsolation();
    this.logDir = options.logDir ?? path.join(tmpdir(), `pulse-stack-${this.isolation.natsNamespace}`);
    mkdirSync(this.logDir, { recursive: true });
  }

  /** Starts everything and waits for every /readyz; cleans up if any service fails to come up. */
  static async start(options: LocalStackOptions = {}): Promise<LocalStack> {
    const stack = new LocalStack(options);
    try {
      await prepareIsolation(stack.infra, stack.isolation);
      await stack.boot(options.gateways ?? 1, options.engines ?? 1);
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  private async boot(gateways: number, engines: number): Promise<void> {
    // Every port of the stack at once: one at a time, the kernel once gave an engine a gateway's port, that
    // gateway could not listen, and the engine answered its readiness probe and its clients' upgrades.
    const ports = await freePorts(1 + engines + gateways);
    const gatewayPorts = ports.slice(1 + engines);
    const api = this.define('api', 'api', ports[0], {
      GATEWAY_PUBLIC_URL: `ws://127.0.0.1:${gatewayPorts[0]}${LIVE_PATH}`,
    });
    await api.start();
    const others: ServiceProcess[] = [];
    for (let i = 1; i <= engines; i++) others.push(this.define(`engine-${i}`, 'live-engine', ports[i]));
    for (let i = 1; i <= gateways; i++) {
      others.push(this.define(`gateway-${i}`, 'gateway', gatewayPorts[i - 1]));
    }
    await Promise.all(others.map((p) => p.start()));
  }

  private define(
    name: string,
    kind: ServiceKind,
    chosen: number,
    extra: Record<string, string> = {},
  ): ServiceProcess {
    const env = { ...this.baseEnv(), ...this.options.env?.all, ...this.options.env?.[kind], ...extra };
    if (kind === 'api') env.API_PORT = String(chosen);
    if (kind === 'gateway') Object.assign(env, { GATEWAY_PORT: String(chosen), GATEWAY_ID: name });
    if (kind === 'live-engine') Object.assign(env, { ENGINE_PORT: String(chosen), ENGINE_ID: name });
    const proc = new ServiceProcess(
      {
        name,
        kind,
        port: chosen,
        env,
        nodeArgs: [...(this.options.nodeArgs?.all ?? []), ...(this.options.nodeArgs?.[kind] ?? [])],
      },
      REPO_ROOT,
      path.join(this.logDir, `${name}.log`),
    );
    this.procs.set(name, proc);
    return proc;
  }

  private baseEnv(): Record<string, string> {
    return {
      NODE_ENV: 'development',
      DATABASE_URL: this.infra.databaseUrl,
      DATABASE_SCHEMA: this.isolation.databaseSchema,
      REDIS_URL: this.infra.redisUrl,
      REDIS_KEY_PREFIX: redisKeyPrefix(this.isolation),
      NATS_URL: this.infra.natsUrl,
      NATS_NAMESPACE: this.isolation.natsNamespace,
      CLICKHOUSE_URL: this.infra.clickhouseUrl,
      CLICKHOUSE_DB: this.isolation.clickhouseDb,
      JOIN_TICKET_SECRET: STACK_JOIN_TICKET_SECRET,
      JWT_ACCESS_SECRET: STACK_ACCESS_SECRET,
      // The harness signs every trainee up from one address (the API limits registrations per address).
      REGISTER_MAX_PER_IP: '100000000',
    };
  }

  get apiUrl(): string {
    return this.process('api').baseUrl;
  }
  get gatewayUrls(): string[] {
    return this.byKind('gateway').map((p) => `ws://127.0.0.1:${p.spec.port}${LIVE_PATH}`);
  }
  /** Every process of one kind, in start order. */
  byKind(kind: ServiceKind): ServiceProcess[] {
    return [...this.procs.values()].filter((p) => p.spec.kind === kind);
  }
  process(name: string): ServiceProcess {
    const proc = this.procs.get(name);
    if (!proc) throw new Error(`no service named ${name} (have ${[...this.procs.keys()].join(', ')})`);
    return proc;
  }
  pids(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, proc] of this.procs) if (proc.pid !== undefined) out[name] = proc.pid;
    return out;
  }

  serviceUrls(): Record<string, string> {
    return Object.fromEntries(
      [...this.procs].filter(([, p]) => p.running).map(([name, p]) => [name, p.baseUrl]),
    );
  }

  /** SIGKILL one service (a crash). */
  kill(name: string): Promise<void> {
    return this.process(name).kill();
  }
  /** SIGTERM one service (a graceful stop). */
  stop(name: string): Promise<number | string> {
    return this.process(name).stop();
  }
  /** Starts a stopped or killed service again with the same name, port and environment. */
  async restart(name: string): Promise<void> {
    const proc = this.process(name);
    if (proc.running) await proc.stop();
    await proc.start();
  }

  /** Stops every service (SIGTERM) and drops the schema, database and streams. */
  async close(): Promise<string[]> {
    const procs = [...this.procs.values()];
    const order = [
      ...procs.filter((p) => p.spec.kind === 'gateway'),
      ...procs.filter((p) => p.spec.kind !== 'gateway'),
    ];
    for (const proc of order) await proc.stop().catch(() => proc.kill());
    return dropIsolation(this.infra, this.isolation);
  }
}

/** An existing deployment (`--api-url`, `--gateway-url`): nothing is started or cleaned. */
export function remoteTarget(apiUrl: string, gatewayUrls: string[], isolation?: Isolation): Target {
  return {
    apiUrl,
    gatewayUrls,
    isolation,
    infra: DEFAULT_INFRA,
    pids: () => ({}),
    serviceUrls: () => ({ api: apiUrl }),
  };
}
