import type { Server } from 'node:net';

/** Where a service listens: its port (0 picks one) and the kernel's accept queue. */
export interface ListenAt {
  port: number;
  backlog?: number;
}

/** A port the service could not bind: taken by another process, or not permitted. */
export class PortUnavailable extends Error {
  constructor(
    readonly port: number,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`cannot listen on port ${port}: ${reason}`, options);
  }
}

/**
 * Binds `server` and resolves once it listens; a port it cannot bind rejects with `PortUnavailable`, and the
 * service exits. An 'error' on a server without a listener reached the last-resort handler instead, which logs it
 * and lets the process run on: one that served nothing, while whatever held its port answered in its place.
 */
export function listen(server: Server, at: ListenAt): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) =>
      reject(new PortUnavailable(at.port, err.code ?? err.message, { cause: err }));
    server.once('error', failed);
    server.listen(at, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
