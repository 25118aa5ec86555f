import { pino, type DestinationStream, type Logger } from 'pino';
import { logRedaction } from '@pulse/contracts';

export interface LoggerOptions {
  level: string;
  base?: Record<string, unknown>;
}

/** A service's pino JSON logger, credentials redacted; `destination` defaults to stdout (tests read it). */
export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const settings = {
    level: options.level,
    ...(options.base ? { base: options.base } : {}),
    ...logRedaction(),
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/**
 * The last resort: an error that escaped every handler is logged (and counted by `onError`) instead of
 * silently ending the process and every client on it. Handlers are still expected to catch their own errors;
 * this only keeps one missed path from becoming an outage (issue 11).
 */
export function installLastResort(logger: Logger, onError: () => void = () => undefined): void {
  process.on('uncaughtException', (err) => {
    onError();
    logger.error({ err }, 'uncaught exception');
  });
  process.on('unhandledRejection', (err) => {
    onError();
    logger.error({ err }, 'unhandled rejection');
  });
}
