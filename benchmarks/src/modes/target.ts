import { LocalStack, remoteTarget, type LocalStackOptions, type Target } from '../stack.js';
import { findLocalServicePids, findNatsServerPid } from '../metrics/resources.js';
import type { Isolation } from '../stack/isolation.js';

export interface TargetOptions {
  apiUrl?: string;
  gatewayUrls?: string[];
  gateways?: number;
  engines?: number;
  /** For a remote target: the storage names, so that ClickHouse and consumer lag can be checked. */
  isolation?: Isolation;
  env?: LocalStackOptions['env'];
  nodeArgs?: LocalStackOptions['nodeArgs'];
  log?: (line: string) => void;
  /** The CLI sets this: Ctrl-C then cleans the stack up. */
  handleInterrupt?: boolean;
}

export interface OpenTarget {
  target: Target;
  local?: LocalStack;
  /** Names and pids to sample: the services, NATS (when local) and the harness itself. */
  pids(): Record<string, number>;
  close(): Promise<void>;
}

const openStacks = new Set<LocalStack>();
let interruptHandled = false;
/** Ctrl-C during a run: stop the stack's services and drop its storage before exiting. */
function closeOnInterrupt(): void {
  if (interruptHandled) return;
  interruptHandled = true;
  process.once('SIGINT', () => {
    console.error('[bench] interrupted: stopping the local stack');
    void Promise.allSettled([...openStacks].map((s) => s.close())).then(() => process.exit(130));
  });
}

/** Starts a LocalStack, or wraps `--api-url`/`--gateway-url` when given. */
export async function openTarget(options: TargetOptions): Promise<OpenTarget> {
  const natsPid = findNatsServerPid();
  const extra = (): Record<string, number> => ({
    ...(natsPid ? { nats: natsPid } : {}),
    harness: process.pid,
  });
  if (options.apiUrl) {
    const target = remoteTarget(options.apiUrl, options.gatewayUrls ?? [], options.isolation);
    if (!isLoopback(options.apiUrl)) {
      return { target, pids: () => ({ harness: process.pid }), close: async () => undefined };
    }
    // A deployment on this machine (`npm start`): its processes are measured like a local stack's.
    const services = findLocalServicePids();
    const found = Object.entries({ ...services, ...extra() }).map(([name, pid]) => `${name} (${pid})`);
    options.log?.(`measuring the target's processes on this machine: ${found.join(', ')}`);
    return { target, pids: () => ({ ...services, ...extra() }), close: async () => undefined };
  }
  options.log?.(
    `starting a local stack: ${options.gateways ?? 1} gateway(s), ${options.engines ?? 1} engine(s)`,
  );
  const local = await LocalStack.start({
    gateways: options.gateways,
    engines: options.engines,
    env: options.env,
    nodeArgs: options.nodeArgs,
  });
  openStacks.add(local);
  if (options.handleInterrupt) closeOnInterrupt();
  options.log?.(`stack up (logs in ${local.logDir})`);
  return {
    target: local,
    local,
    pids: () => ({ ...local.pids(), ...extra() }),
    close: async () => {
      openStacks.delete(local);
      const problems = await local.close();
      if (problems.length > 0) options.log?.(`cleanup problems: ${problems.join('; ')}`);
    },
  };
}

/** True when `url` names this machine (a target on loopback runs beside the harness). */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}
