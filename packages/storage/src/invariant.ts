// Invariants stay on in production: a log that breaks one (offsets going backwards, index entries out
// of order) would silently serve wrong data, so it is better to stop loudly.

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

export function invariant(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new InvariantViolation(typeof message === 'string' ? message : message());
  }
}
