import { ErrorCode } from '@pulse/contracts';
import type { SessionStatus } from '@pulse/contracts';

/** Base of every failure the API answers on purpose; the error middleware maps `code` to HTTP once. */
export abstract class PulseError extends Error {
  abstract readonly code: ErrorCode;
  /** Safe, client-facing extra data (never secrets or internals). */
  readonly details?: unknown;
  constructor(message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.details !== undefined) this.details = options.details;
  }
}

export class ValidationFailed extends PulseError {
  readonly code = ErrorCode.VALIDATION_FAILED;
}

export class Unauthenticated extends PulseError {
  readonly code = ErrorCode.UNAUTHENTICATED;
}

export class Forbidden extends PulseError {
  readonly code = ErrorCode.FORBIDDEN;
}

export class NotFound extends PulseError {
  readonly code = ErrorCode.NOT_FOUND;
  constructor(
    readonly what: string,
    readonly id?: string,
  ) {
    super(id === undefined ? `${what} not found` : `${what} ${id} not found`);
  }
}

export class EmailTaken extends PulseError {
  readonly code = ErrorCode.CONFLICT;
  constructor(cause?: unknown) {
    super('an account with this email already exists', { cause });
  }
}

export class FollowLimitReached extends PulseError {
  readonly code = ErrorCode.CONFLICT;
  constructor(readonly limit: number) {
    super(`a trainee may follow at most ${limit} others`, { details: { limit } });
  }
}

export class FeedbackAlreadyGiven extends PulseError {
  readonly code = ErrorCode.CONFLICT;
  constructor(
    readonly sessionId: string,
    cause?: unknown,
  ) {
    super(`feedback for session ${sessionId} was already given`, { cause });
  }
}

/** Someone changed the row between our read and our write (optimistic lock on WorkoutSession.version). */
export class ConcurrentUpdate extends PulseError {
  readonly code = ErrorCode.CONFLICT;
  constructor(
    readonly what: string,
    cause?: unknown,
  ) {
    super(`${what} was changed concurrently, retry`, { cause });
  }
}

export class InvalidState extends PulseError {
  readonly code = ErrorCode.INVALID_STATE;
  constructor(
    readonly sessionId: string,
    readonly state: SessionStatus,
    action?: string,
  ) {
    super(
      action === undefined
        ? `session ${sessionId} is ${state}`
        : `session ${sessionId} is ${state}: cannot ${action}`,
      { details: { state } },
    );
  }
}

export class RateLimited extends PulseError {
  readonly code = ErrorCode.RATE_LIMITED;
  constructor(readonly retryAfterSec: number) {
    super(`too many attempts, retry in ${retryAfterSec} s`, { details: { retryAfterSec } });
  }
}

export class PayloadTooLarge extends PulseError {
  readonly code = ErrorCode.PAYLOAD_TOO_LARGE;
  constructor(readonly limitBytes: number) {
    super(`request body exceeds ${limitBytes} bytes`, { details: { limitBytes } });
  }
}

/** A dependency (PostgreSQL, Redis, NATS, ClickHouse) did not answer: retry later. */
export class Unavailable extends PulseError {
  readonly code = ErrorCode.UNAVAILABLE;
  constructor(
    readonly dependency: string,
    cause?: unknown,
  ) {
    super(`${dependency} is unavailable, retry later`, { cause, details: { dependency } });
  }
}

/** The handler did not finish within REQUEST_TIMEOUT_MS: answered 503 so the client may retry. */
export class HandlerTimedOut extends PulseError {
  readonly code = ErrorCode.UNAVAILABLE;
  constructor(readonly timeoutMs: number) {
    super(`the request did not finish within ${timeoutMs} ms, retry later`, { details: { timeoutMs } });
  }
}

/** Not a failure: the session ended and its results are being frozen; answered 202 with Retry-After. */
export class ResultsPending extends PulseError {
  readonly code = ErrorCode.RESULTS_PENDING;
  constructor(
    readonly sessionId: string,
    readonly retryAfterSec: number,
  ) {
    super(`results of session ${sessionId} are being finalised, retry in ${retryAfterSec} s`, {
      details: { retryAfterSec },
    });
  }
}
