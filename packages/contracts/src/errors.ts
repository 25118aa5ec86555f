/**
 * Stable error codes shared by the REST envelope (`{"error": {code, message, details}}`) and the
 * WebSocket `error` frame. Clients switch on these, never on messages.
 */
export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  INVALID_STATE: 'INVALID_STATE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
  /**
   * REST, not an error: the session ended and its results are being frozen. Answered 202 with
   * `Retry-After` (and `details.retryAfterSec`); ask again then. Never a partial board.
   */
  RESULTS_PENDING: 'RESULTS_PENDING',
  /** WebSocket: a frame that is not valid JSON, has an unknown type, wrong fields or is too large. */
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  /** WebSocket: a rating sent while the session is not live (waiting room, ended, cancelled). */
  NOT_LIVE: 'NOT_LIVE',
  /**
   * WebSocket (issue 16): a `board` frame chose a main board the trainee has no part for in this class
   * (`band` without an age band on the ticket: not opted in to age-band boards or no birth year).
   */
  BOARD_UNAVAILABLE: 'BOARD_UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The HTTP status each code is answered with on the REST API. */
export const HttpStatus: Readonly<Record<ErrorCode, number>> = Object.freeze({
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID_STATE: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
  RESULTS_PENDING: 202,
  INVALID_MESSAGE: 400,
  NOT_LIVE: 409,
  BOARD_UNAVAILABLE: 409,
});

/** The body of every non-2xx REST answer. */
export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/**
 * WebSocket close codes. 4401 and 1012 are pinned by the public contract; the others are Pulse's
 * documented extensions (1002, 1007, 1008 and 1009 are RFC 6455's; `ws` sends them by itself).
 */
export const CloseCode = {
  /** Normal closure requested by the client or after `cancelled` / `ended`. */
  NORMAL: 1000,
  /**
   * The client broke the WebSocket framing (RFC 6455 §5, §7.4.1): an unmasked frame, a reserved bit or opcode,
   * a continuation without a first fragment, a fragmented or oversized control frame, an invalid close code.
   * `ws` closes by itself.
   */
  PROTOCOL_ERROR: 1002,
  /** A text frame (or a close reason) that is not valid UTF-8 (RFC 6455 §8.1). `ws` closes by itself. */
  INVALID_PAYLOAD: 1007,
  /** A message sent in more than MAX_MESSAGE_FRAGMENTS fragments. `ws` closes by itself. */
  POLICY_VIOLATION: 1008,
  /** The frame exceeded the hard size limit of the socket (ws closes by itself). */
  MESSAGE_TOO_BIG: 1009,
  /** The gateway is shutting down or moving: reconnect (to any gateway) and resume from `lastSeq`. */
  RECONNECT: 1012,
  /** Missing, malformed, expired or foreign join ticket. Fatal: call POST /v1/sessions/:id/join again. */
  UNAUTHORIZED: 4401,
  /**
   * A newer connection of the same trainee to the same session (on any gateway) replaced this one: one live
   * socket per trainee per session. Do not reconnect automatically; the newer socket carries on.
   */
  REPLACED: 4409,
  /** The session is over (ended or cancelled); nothing more will be accepted. */
  SESSION_CLOSED: 4410,
  /** The client stopped reading and its send buffer passed the limit. Reconnect to resume. */
  SLOW_CONSUMER: 4429,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
