// Invariants stay on in production (TigerBeetle style): a state that breaks one (a Raft log going
// backwards, a leader outside its ISR, index entries out of order, an append acknowledged out of
// order) would silently lose or serve wrong data, so the process stops loudly instead. The cost is a
// branch per check.

/**
 * A broken rule: a bug in Gregor (or a corrupt log), never an expected failure. Expected failures
 * are values (Kafka error codes); this one is thrown and not caught.
 */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

/** Throws an InvariantViolation unless `condition` holds; a function message is built only then. */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new InvariantViolation(typeof message === 'string' ? message : message());
  }
}
