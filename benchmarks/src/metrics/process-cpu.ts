import { readFileSync } from 'node:fs';

/** utime + stime of a process in ms, from /proc (Linux); null when unknown. */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SEC;
  } catch {
    return null;
  }
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SEC = 100;
export const perRequest = (before: number | null, after: number | null, requests: number) =>
  before === null || after === null || requests === 0
    ? null
    : Math.round(((after - before) / requests) * 100) / 100;

/**
 * How long a process's main thread has waited for a CPU while runnable, in ms (Linux schedstat `run_delay`
 * of the thread-group leader; null elsewhere). On a shared box this is what a latency tail is made of when
 * the process itself is far from busy.
 */
export function mainThreadRunQueueMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return null;
  }
}
