// Structured logs: one JSON line per significant event (pino), human-readable when a person is
// watching a terminal (pino-pretty as a synchronous stream, so no worker thread and no lost lines
// on exit).

import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly nodeId: number;
  readonly level?: string;
  /** Defaults to whether stdout is a terminal; GREGOR_LOG_FORMAT=json|pretty overrides. */
  readonly prettyPrint?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const format = process.env.GREGOR_LOG_FORMAT;
  const prettyPrint =
    options.prettyPrint ?? (format === 'pretty' || (format !== 'json' && process.stdout.isTTY === true));
  const base = {
    level: options.level ?? process.env.GREGOR_LOG_LEVEL ?? 'info',
    base: { node: options.nodeId },
  };
  if (!prettyPrint) return pino(base);
  return pino(
    base,
    pretty({ colorize: true, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }),
  );
}
