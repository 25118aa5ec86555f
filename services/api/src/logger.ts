import { pino, type DestinationStream, type Logger } from 'pino';

/** Fields that carry credentials: never written, whatever object a log line includes them in. */
export const REDACTED_PATHS = [
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
];

const SECRET_QUERY = /([?&](?:ticket|token|access_token|refresh_token|password)=)[^&#\s]*/gi;

/** A URL or path with credential query parameters (e.g. the gateway's `?ticket=`) replaced. */
export const redactQuery = (url: string): string => url.replace(SECRET_QUERY, '$1[redacted]');

export interface LoggerOptions {
  level: string;
  base?: Record<string, unknown>;
}

/** The service's pino JSON logger; `destination` defaults to stdout (tests pass a stream to read it). */
export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const settings = {
    level: options.level,
    ...(options.base ? { base: options.base } : {}),
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      url: (url: unknown) => (typeof url === 'string' ? redactQuery(url) : url),
      path: (path: unknown) => (typeof path === 'string' ? redactQuery(path) : path),
    },
  };
  return destination ? pino(settings, destination) : pino(settings);
}
