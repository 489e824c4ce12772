import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/** Options of {@link createLogger}, from `LOG_LEVEL` and `LOG_FORMAT`. */
export interface LoggerOptions {
  readonly level?: string;
  readonly format?: 'json' | 'pretty';
  /** Where lines go; standard output by default. */
  readonly destination?: NodeJS.WritableStream;
}

/** Keys whose values never reach a log line, wherever they appear. */
export const REDACTED_PATHS = [
  'token',
  'apiKey',
  'authorization',
  '*.token',
  '*.apiKey',
  '*.authorization',
  '*.*.apiKey',
  // Why: a logged pool spec carries the Gluetun key at pool.vpn.gluetun.apiKey.
  '*.*.*.apiKey',
  'headers.authorization',
  'headers["x-api-key"]',
];

/** A pino logger: JSON lines by default, colourised lines with `LOG_FORMAT=pretty`. Never a module singleton. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const base = {
    level,
    base: { name: 'enginepool' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    messageKey: 'msg',
  };
  if (options.format === 'pretty') {
    return pino(
      base,
      pretty({
        sync: true,
        colorize: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,name',
        destination: 1,
      }),
    );
  }
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: true }));
}

/** A logger that drops everything (tests, and CLI commands that print their own output). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
