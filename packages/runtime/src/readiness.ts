/**
 * Every service's /readyz answers this one shape. "Ready" means "can serve": a required dependency down
 * (or draining) is 503; an optional one down is reported under `degraded` with 200, so a blinking cache
 * or results store does not take a whole replica out of its load balancer.
 */
export interface ReadinessReport {
  status: 'ready' | 'degraded' | 'unavailable' | 'draining';
  checks: Record<string, 'up' | 'down'>;
  /** Required dependencies that are down. */
  down: string[];
  /** Optional dependencies that are down, or features running in a degraded mode. */
  degraded: string[];
  /** Service-specific figures (e.g. live actors). */
  details?: Record<string, unknown>;
}

export interface ReadinessInput {
  draining: boolean;
  /** Each dependency's state: true when it answered. */
  checks: Record<string, boolean>;
  /** The dependencies without which the service cannot serve. */
  required: readonly string[];
  /** Extra degraded features beyond optional dependencies that are down. */
  degraded?: readonly string[];
  details?: Record<string, unknown>;
}

export function readinessReport(input: ReadinessInput): { httpStatus: 200 | 503; body: ReadinessReport } {
  const names = Object.keys(input.checks);
  const checks = Object.fromEntries(names.map((n) => [n, input.checks[n] ? 'up' : 'down'] as const));
  const down = names.filter((n) => !input.checks[n] && input.required.includes(n));
  const degraded = [
    ...names.filter((n) => !input.checks[n] && !input.required.includes(n)),
    ...(input.degraded ?? []),
  ];
  const status: ReadinessReport['status'] = input.draining
    ? 'draining'
    : down.length > 0
      ? 'unavailable'
      : degraded.length > 0
        ? 'degraded'
        : 'ready';
  const body: ReadinessReport = { status, checks, down, degraded };
  if (input.details) body.details = input.details;
  return { httpStatus: status === 'ready' || status === 'degraded' ? 200 : 503, body };
}

/** Default deadline of one dependency check. */
export const PROBE_TIMEOUT_MS = 1_000;

/** True when `check` resolves within the deadline. */
export async function probe(check: () => Promise<unknown>, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
  });
  try {
    await Promise.race([check(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
