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

const SECRET_PARAMS: ReadonlySet<string> = new Set([
  'ticket',
  'token',
  'access_token',
  'refresh_token',
  'password',
]);
const QUERY_PARAM = /([?&])([^=&#\s]*)=[^&#\s]*/g;

/**
 * A query parameter's name as URLSearchParams reads it, in lower case. A name is compared decoded because the
 * gateway takes `?%74icket=` as its ticket: matched as written, such a ticket went to the log in clear.
 */
function paramName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/** A URL or path with credential query parameters (e.g. the gateway's `?ticket=`) replaced. */
export const redactQuery = (url: string): string =>
  url.replace(QUERY_PARAM, (param, separator: string, name: string) =>
    SECRET_PARAMS.has(paramName(name)) ? `${separator}${name}=[redacted]` : param,
  );

const redactIfString = (value: unknown): unknown => (typeof value === 'string' ? redactQuery(value) : value);

/** pino options (`redact` + `serializers`) that keep credentials out of every log line. */
export function logRedaction() {
  return {
    redact: { paths: [...CREDENTIAL_LOG_PATHS], censor: '[redacted]' },
    serializers: { url: redactIfString, path: redactIfString },
  };
}
