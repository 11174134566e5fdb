// Structured logs: one JSON line per significant event (pino), human-readable when a person is
// watching a terminal (pino-pretty as a synchronous stream, so no worker thread and no lost lines
// on exit). pino-pretty is loaded only when a logger prints for a person: a broker logging JSON (not
// a terminal, GREGOR_LOG_FORMAT=json) never holds its code.

import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

const require = createRequire(import.meta.url);

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
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pino(
    base,
    pretty({ colorize: true, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }),
  );
}
