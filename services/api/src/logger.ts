import { pino, type DestinationStream, type Logger } from 'pino';
import { logRedaction } from '@pulse/contracts';

export interface LoggerOptions {
  level: string;
  base?: Record<string, unknown>;
}

/** The service's pino JSON logger, credentials redacted; `destination` defaults to stdout (tests read it). */
export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const settings = {
    level: options.level,
    ...(options.base ? { base: options.base } : {}),
    ...logRedaction(),
  };
  return destination ? pino(settings, destination) : pino(settings);
}
