// Invariants stay on in production: a replica that breaks one (a high watermark above its log end,
// epochs going back) would serve or acknowledge wrong data, so it is better to stop loudly.

export class ReplicationInvariantError extends Error {
  override readonly name = 'ReplicationInvariantError';
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new ReplicationInvariantError(typeof message === 'string' ? message : message());
  }
}
