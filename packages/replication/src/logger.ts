// What replication logs through: pino's shape (structured fields first, then the message), so the
// broker passes its pino logger and the simulation a silent one or a tracer.

export interface ReplicationLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(bindings: object): ReplicationLogger;
}

/** Logs nothing. */
export const silentLogger: ReplicationLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
