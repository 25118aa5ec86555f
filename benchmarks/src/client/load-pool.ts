import { Worker } from 'node:worker_threads';
import type {
  ClientSpec,
  ClientSummary,
  ConnectOutcome,
  WorkerCommand,
  WorkerMessage,
  WorkerCpu,
  WorkerStats,
} from './protocol.js';
import type { WorkerClient } from './load-client.js';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type Command = WorkerCommand extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

/** Aggregated counters of one stats interval over all workers. */
export interface PoolInterval {
  latencies: number[];
  sent: number;
  resent: number;
  rankFrames: number;
  errorFrames: number;
  connected: number;
  unconfirmed: number;
  /** The longest event-loop delay of any worker in the interval (ms). */
  loopDelayMaxMs: number;
}

/**
 * Load-generating trainees spread over worker threads, so the generator's own event loop is not what
 * limits a run. Each worker reports once a second; `onInterval` receives the sum.
 */
export class LoadPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private current: Map<Worker, WorkerStats> = new Map();

  /** `clients`: the client of each worker, one worker each (see `workerClients`). */
  constructor(
    clients: readonly WorkerClient[],
    private readonly onInterval: (i: PoolInterval) => void = () => undefined,
  ) {
    for (const client of clients) {
      const worker = new Worker(new URL('./load-worker.js', import.meta.url), { workerData: client });
      worker.on('message', (msg: WorkerMessage) => this.onMessage(worker, msg));
      worker.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(worker);
    }
  }

  private onMessage(worker: Worker, msg: WorkerMessage): void {
    if ('evt' in msg) {
      this.current.set(worker, msg);
      if (this.current.size === this.workers.length) this.flushInterval();
      return;
    }
    const p = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    if (msg.error) p?.reject(new Error(msg.error));
    else p?.resolve(msg.result);
  }

  private flushInterval(): void {
    const sum: PoolInterval = {
      latencies: [],
      sent: 0,
      resent: 0,
      rankFrames: 0,
      errorFrames: 0,
      connected: 0,
      unconfirmed: 0,
      loopDelayMaxMs: 0,
    };
    for (const s of this.current.values()) {
      for (const l of s.latencies) sum.latencies.push(l);
      sum.sent += s.sent;
      sum.resent += s.resent;
      sum.rankFrames += s.rankFrames;
      sum.errorFrames += s.errorFrames;
      sum.connected += s.connected;
      sum.unconfirmed += s.unconfirmed;
      sum.loopDelayMaxMs = Math.max(sum.loopDelayMaxMs, s.loopDelayMaxMs);
    }
    this.current = new Map();
    this.onInterval(sum);
  }

  private call<T>(worker: Worker, command: Command): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...command, id });
    });
  }
  private all<T>(command: Command): Promise<T[]> {
    return Promise.all(this.workers.map((w) => this.call<T>(w, command)));
  }

  /** Spreads the clients round-robin over the workers and connects them over `rampMs`. */
  async connect(clients: ClientSpec[], rampMs: number): Promise<ConnectOutcome> {
    const shares = this.workers.map(() => [] as ClientSpec[]);
    clients.forEach((c, i) => shares[i % shares.length].push(c));
    const answers = await Promise.all(
      this.workers.map((w, i) =>
        this.call<ConnectOutcome>(w, {
          cmd: 'connect',
          clients: shares[i],
          rampMs,
        }),
      ),
    );
    return {
      ok: answers.reduce((n, a) => n + a.ok, 0),
      failed: answers.flatMap((a) => a.failed),
      retried: answers.reduce((n, a) => n + a.retried, 0),
      dropReasons: answers.reduce<Record<string, number>>((sum, a) => {
        for (const [reason, n] of Object.entries(a.dropReasons)) sum[reason] = (sum[reason] ?? 0) + n;
        return sum;
      }, {}),
    };
  }
  /** Every client sends `ratePerSec` ratings; every `resendEvery`-th also resends the previous seq. */
  async play(ratePerSec: number, resendEvery = 0): Promise<{ live: number; notLive: number }> {
    const answers = await this.all<{ live: number; notLive: number }>({
      cmd: 'play',
      ratePerSec,
      resendEvery,
    });
    return answers.reduce((a, b) => ({ live: a.live + b.live, notLive: a.notLive + b.notLive }));
  }
  async stop(): Promise<void> {
    await this.all({ cmd: 'stop' });
  }
  async settle(timeoutMs: number): Promise<{ settled: number; unsettled: number }> {
    const answers = await this.all<{ settled: number; unsettled: number }>({ cmd: 'settle', timeoutMs });
    return answers.reduce((a, b) => ({
      settled: a.settled + b.settled,
      unsettled: a.unsettled + b.unsettled,
    }));
  }
  async awaitEnded(timeoutMs: number): Promise<{ ended: number; withoutEnded: number }> {
    const answers = await this.all<{ ended: number; withoutEnded: number }>({ cmd: 'awaitEnded', timeoutMs });
    return answers.reduce((a, b) => ({
      ended: a.ended + b.ended,
      withoutEnded: a.withoutEnded + b.withoutEnded,
    }));
  }
  /** Each worker's client, devices and thread CPU so far (`cpu` in load-worker). */
  cpu(): Promise<WorkerCpu[]> {
    return this.all<WorkerCpu>({ cmd: 'cpu' });
  }
  /**
   * Every device's summary; each worker first waits up to `closeWaitMs` for its devices to have closed with an
   * end state (after the sessions ended), else summarizes them as they are.
   */
  async summary(closeWaitMs = 0): Promise<ClientSummary[]> {
    return (await this.all<ClientSummary[]>({ cmd: 'summary', closeWaitMs })).flat();
  }
  async close(): Promise<void> {
    await this.all({ cmd: 'close' }).catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
