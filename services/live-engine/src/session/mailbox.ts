import type { Logger } from 'pino';

export type MailboxTask = () => void | Promise<void>;

/**
 * One actor's inbox: tasks run one at a time in arrival order. A task's error is logged and the next task
 * runs; nothing escapes to kill the actor or the process.
 */
export class Mailbox {
  private readonly tasks: MailboxTask[] = [];
  private head = 0;
  private running = false;
  private isClosed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly log: Logger) {}

  /** True once closed: posted tasks are dropped. */
  get closed(): boolean {
    return this.isClosed;
  }

  get length(): number {
    return this.tasks.length - this.head;
  }

  post(task: MailboxTask): void {
    if (this.isClosed) return;
    this.tasks.push(task);
    if (!this.running) void this.run();
  }

  /** Resolves once every task posted so far has run. */
  drained(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops what is queued and refuses new tasks. */
  close(): void {
    this.isClosed = true;
    this.tasks.length = 0;
    this.head = 0;
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.head < this.tasks.length) {
      const task = this.tasks[this.head++];
      if (this.head > 1024 && this.head * 2 > this.tasks.length) {
        this.tasks.splice(0, this.head);
        this.head = 0;
      }
      try {
        const result = task();
        if (result !== undefined) await result;
      } catch (err) {
        this.log.error({ err }, 'session actor task failed');
      }
    }
    this.tasks.length = 0;
    this.head = 0;
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
