/**
 * Which wire fields carry credentials, so that no service ever logs one. Plain data and a pure function:
 * each service hands `logRedaction()` to its own pino logger.
 */
export const CREDENTIAL_LOG_PATHS: readonly string[] = Object.freeze([
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'password',
  '*.password',
  'passwordHash',
  '*.passwordHash',
  'refreshToken',
  '*.refreshToken',
  'accessToken',
  '*.accessToken',
  'ticket',
  '*.ticket',
  'token',
  '*.token',
]);

const SECRET_QUERY = /([?&](?:ticket|token|access_token|refresh_token|password)=)[^&#\s]*/gi;

/** A URL or path with credential query parameters (e.g. the gateway's `?ticket=`) replaced. */
export const redactQuery = (url: string): string => url.replace(SECRET_QUERY, '$1[redacted]');

const redactIfString = (value: unknown): unknown => (typeof value === 'string' ? redactQuery(value) : value);

/** pino options (`redact` + `serializers`) that keep credentials out of every log line. */
export function logRedaction() {
  return {
    redact: { paths: [...CREDENTIAL_LOG_PATHS], censor: '[redacted]' },
    serializers: { url: redactIfString, path: redactIfString },
  };
}
