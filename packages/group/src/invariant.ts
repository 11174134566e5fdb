/**
 * Thrown when the group coordinator's state would break one of its rules (a leader that is not a
 * member, a Stable group with a member lacking an assignment, an append acknowledged out of order).
 * It is a bug in the coordinator or its driver, never an expected failure: expected failures are
 * Kafka error codes in responses. Kept on in production, the cost is a branch per check.
 */
export class GroupInvariantError extends Error {
  override readonly name = 'GroupInvariantError';
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new GroupInvariantError(typeof message === 'string' ? message : message());
  }
}
