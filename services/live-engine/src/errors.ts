import { ErrorCode } from '@pulse/contracts';

/** Base of the engine's typed failures: each carries a contracts error code and its data as fields. */
export abstract class EngineError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A ClickHouse statement failed (server down, timeout, rejected statement). */
export class ClickHouseUnavailable extends EngineError {
  readonly code = ErrorCode.UNAVAILABLE;
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`ClickHouse ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/** A message on a session subject did not match the contracts schema; it is logged, stored nowhere, acked. */
export class MalformedMessage extends EngineError {
  readonly code = ErrorCode.VALIDATION_FAILED;
  constructor(
    readonly subject: string,
    readonly streamSeq: number,
    detail: string,
  ) {
    super(`malformed message #${streamSeq} on ${subject}: ${detail}`);
  }
}

/** Why a stored checkpoint is not used: it cannot be read, or it was written under other rules. */
export type CheckpointProblem = 'corrupt' | 'incompatible';

/** A partition checkpoint that cannot be restored: the partition is rebuilt by a full replay instead. */
export class CheckpointUnusable extends EngineError {
  readonly code = ErrorCode.INTERNAL;
  constructor(
    readonly partition: number,
    readonly problem: CheckpointProblem,
    detail: string,
    cause?: unknown,
  ) {
    super(`checkpoint of partition ${partition} is ${problem}: ${detail}`, { cause });
  }
}
