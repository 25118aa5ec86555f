/** Reconnect delays: exponential with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export interface BackoffOptions {
  /** First ceiling, in milliseconds. */
  baseMs: number;
  /** Largest ceiling, in milliseconds. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ baseMs: 250, maxMs: 10_000 });

/** The delay before reconnect attempt `attempt` (0 for the first): uniform in [0, min(max, base × 2^attempt)]. */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(random() * ceiling);
}
