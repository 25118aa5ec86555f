import { ErrorCode } from '@pulse/contracts';
import type { ErrorEnvelope } from '@pulse/contracts';

/**
 * A non-2xx answer of the REST API as a typed value: the contract's `code` (switch on it, never on `message`), the
 * HTTP `status`, the envelope's `details` and, on 429 and 503, `retryAfter` in seconds from `Retry-After`.
 */
export class PulseApiError extends Error {
  override readonly name = 'PulseApiError';

  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    message: string,
    readonly details?: unknown,
    readonly retryAfter?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Builds the error from an answer and its parsed body (anything, when the body was not the envelope). */
  static fromResponse(response: Response, body: unknown): PulseApiError {
    const retryHeader = response.headers.get('retry-after');
    const retryAfter = retryHeader !== null && /^\d+$/.test(retryHeader) ? Number(retryHeader) : undefined;
    const envelope = isEnvelope(body) ? body.error : undefined;
    return new PulseApiError(
      envelope?.code ?? codeOfStatus(response.status),
      response.status,
      envelope?.message ?? `HTTP ${response.status}`,
      envelope?.details,
      retryAfter,
    );
  }
}

/** The socket or the network failed before any answer (DNS, refused, reset): retryable, no HTTP status. */
export class PulseNetworkError extends Error {
  override readonly name = 'PulseNetworkError';
  readonly code = ErrorCode.UNAVAILABLE;
}

function isEnvelope(body: unknown): body is ErrorEnvelope {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false;
  const error = (body as { error: unknown }).error;
  return (
    typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
  );
}

/** For answers without the envelope (a proxy's 502 page): the closest contract code. */
function codeOfStatus(status: number): ErrorCode {
  if (status === 401) return ErrorCode.UNAUTHENTICATED;
  if (status === 403) return ErrorCode.FORBIDDEN;
  if (status === 404) return ErrorCode.NOT_FOUND;
  if (status === 413) return ErrorCode.PAYLOAD_TOO_LARGE;
  if (status === 429) return ErrorCode.RATE_LIMITED;
  if (status >= 500 && status !== 500) return ErrorCode.UNAVAILABLE;
  if (status >= 400 && status < 500) return ErrorCode.VALIDATION_FAILED;
  return ErrorCode.INTERNAL;
}
