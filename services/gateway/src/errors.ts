import { ErrorCode } from '@pulse/contracts';

/** Base of every failure the gateway reports to a client; `code` comes from contracts. */
export abstract class GatewayError extends Error {
  abstract readonly code: ErrorCode;
  /** The seq of the rating the error refers to, if any (the `error.seq` extension). */
  readonly seq?: number;
  /** The lowest seq of the client that is not stored: the client resends everything from it. */
  resendFrom?: number;
  constructor(message: string, seq?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    if (seq !== undefined) this.seq = seq;
  }
}

export class InvalidTicket extends GatewayError {
  readonly code = ErrorCode.UNAUTHENTICATED;
  constructor(reason: string, cause?: unknown) {
    super(`join ticket rejected: ${reason}`, undefined, { cause });
  }
}

export class InvalidMessage extends GatewayError {
  readonly code = ErrorCode.INVALID_MESSAGE;
}

export class NotLive extends GatewayError {
  readonly code = ErrorCode.NOT_LIVE;
  constructor(seq: number, message = 'ratings are accepted only while the session is live') {
    super(message, seq);
  }
}

export class RateLimited extends GatewayError {
  readonly code = ErrorCode.RATE_LIMITED;
  constructor(seq: number) {
    super('too many ratings: slow down and resend from this seq', seq);
  }
}

/** A `board` frame chose a board the trainee is not on in this class (issue 16); the choice is unchanged. */
export class BoardUnavailable extends GatewayError {
  readonly code = ErrorCode.BOARD_UNAVAILABLE;
  constructor(main: string) {
    super(
      `no ${main} board for you in this class: opt in to age-band boards with a birth year, then join again`,
    );
  }
}

/** The publish queue of this gateway is full: the rating was not sent to JetStream. */
export class PublishQueueFull extends GatewayError {
  readonly code = ErrorCode.UNAVAILABLE;
  constructor(seq?: number) {
    super('the gateway is overloaded: resend from this seq', seq);
  }
}

/** JetStream did not confirm storing the message (timeout, NATS down, stream missing). */
export class PublishFailed extends GatewayError {
  readonly code = ErrorCode.UNAVAILABLE;
  constructor(seq: number | undefined, cause: unknown) {
    super('the rating could not be stored: resend from this seq', seq, { cause });
  }
}

/** An earlier seq of this client was refused and not resent yet: storing this one would hide it. */
export class EarlierRatingNotStored extends GatewayError {
  readonly code = ErrorCode.UNAVAILABLE;
  constructor(seq: number, resendFrom: number) {
    super(`rating ${resendFrom} was not stored: resend from seq ${resendFrom}`, seq);
    this.resendFrom = resendFrom;
  }
}

/** NATS did not answer while the connection was being set up. */
export class DependencyUnavailable extends GatewayError {
  readonly code = ErrorCode.UNAVAILABLE;
  constructor(cause: unknown) {
    super('live service temporarily unavailable: reconnect', undefined, { cause });
  }
}

/** The wire code of an error; anything not a GatewayError is INTERNAL. */
export const errorCodeOf = (err: unknown): ErrorCode =>
  err instanceof GatewayError ? err.code : ErrorCode.INTERNAL;

/**
 * The one place that turns an error into the wire `error` frame. Unknown errors become INTERNAL with no
 * message leaked.
 */
export function errorFrame(err: unknown): string {
  if (err instanceof GatewayError) {
    const frame: Record<string, unknown> = { type: 'error', code: err.code, message: err.message };
    if (err.seq !== undefined) frame.seq = err.seq;
    if (err.resendFrom !== undefined) frame.resendFrom = err.resendFrom;
    return JSON.stringify(frame);
  }
  return JSON.stringify({ type: 'error', code: ErrorCode.INTERNAL, message: 'internal error' });
}
