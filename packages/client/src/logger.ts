// kafkajs's log levels and logCreator shape, so a logCreator written for kafkajs plugs in unchanged.

export const logLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const;
export type LogLevel = (typeof logLevel)[keyof typeof logLevel];

export interface LogEntry {
  readonly namespace: string;
  readonly level: LogLevel;
  readonly label: string;
  readonly log: { readonly message: string; readonly timestamp: string } & Record<string, unknown>;
}

export type LogCreator = (level: LogLevel) => (entry: LogEntry) => void;

export interface Logger {
  error(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  debug(message: string, extra?: Record<string, unknown>): void;
  namespace(name: string): Logger;
}

const labels: Record<number, string> = { 1: 'ERROR', 2: 'WARN', 4: 'INFO', 5: 'DEBUG' };

export const defaultLogCreator: LogCreator = () => (entry) => {
  const { message, timestamp, ...extra } = entry.log;
  const line = JSON.stringify({ level: entry.label, timestamp, logger: 'gregor-client', message, ...extra });
  if (entry.level <= logLevel.WARN) console.error(line);
  else console.log(line);
};

export function createLogger(level: LogLevel, creator: LogCreator, namespace = ''): Logger {
  const write = creator(level);
  const at =
    (entryLevel: LogLevel) =>
    (message: string, extra: Record<string, unknown> = {}) => {
      if (entryLevel > level) return;
      write({
        namespace,
        level: entryLevel,
        label: labels[entryLevel] ?? 'INFO',
        log: { message, timestamp: new Date().toISOString(), ...extra },
      });
    };
  return {
    error: at(logLevel.ERROR),
    warn: at(logLevel.WARN),
    info: at(logLevel.INFO),
    debug: at(logLevel.DEBUG),
    namespace: (name) => createLogger(level, creator, name),
  };
}
