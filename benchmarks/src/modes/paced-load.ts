import http from 'node:http';
import { LatencyRecorder } from '../metrics/latency.js';
import type { Percentiles } from '../metrics/latency.js';

export interface PacedRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface PacedResult {
  requests: number;
  /** Answered requests per second over the run (the last answer included). */
  reqPerSec: number;
  non2xx: number;
  errors: number;
  /** From each request's scheduled send time to its last byte (waiting for a free connection included). */
  latency: Percentiles;
}

/** How often the scheduler looks for requests that are due; one timer turn sends every due request. */
const TICK_MS = 1;

/**
 * An open-loop load at a fixed rate: request i is due at `start + i / rate`, whatever the earlier answers
 * did, over at most `connections` keep-alive connections. Latency is counted from when a request was due,
 * so a stalled server is charged for every request it delayed (what HDR's coordinated-omission correction
 * approximates, measured instead of synthesised). autocannon's `overallRate` sends each connection's share
 * of a second back to back at the start of the second (a burst at full speed, then idle), and with a rate
 * it corrects for coordinated omission assuming one request per `ceil(1/rate)` = 1 ms per connection, which
 * adds a synthetic value for every millisecond of every answer: its tail is not the tail at that rate.
 */
export async function pacedLoad(opts: {
  url: string;
  rate: number;
  durationSec: number;
  connections: number;
  next: () => PacedRequest;
}): Promise<PacedResult> {
  const target = new URL(opts.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  const recorder = new LatencyRecorder();
  const total = Math.round(opts.rate * opts.durationSec);
  const intervalMs = 1000 / opts.rate;
  let sent = 0;
  let done = 0;
  let non2xx = 0;
  let errors = 0;
  const start = performance.now();
  let lastAnswer = start;
  await new Promise<void>((resolve) => {
    const finish = () => {
      done++;
      lastAnswer = performance.now();
      if (done === total) resolve();
    };
    const send = (dueAt: number) => {
      const r = opts.next();
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: r.method,
          path: r.path,
          headers: r.headers,
          agent,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode > 299) non2xx++;
            recorder.record([performance.now() - dueAt]);
            finish();
          });
        },
      );
      req.on('error', () => {
        errors++;
        finish();
      });
      req.end(r.body);
    };
    const timer = setInterval(() => {
      const now = performance.now();
      while (sent < total && start + sent * intervalMs <= now) send(start + sent++ * intervalMs);
      if (sent === total) clearInterval(timer);
    }, TICK_MS);
  });
  agent.destroy();
  const latency = recorder.summary();
  recorder.destroy();
  return {
    requests: total,
    reqPerSec: Math.round((total * 1000) / (lastAnswer - start)),
    non2xx,
    errors,
    latency,
  };
}
