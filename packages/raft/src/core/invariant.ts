/**
 * Thrown when the Raft core finds its own state impossible. It is a bug, never an expected failure:
 * the process must crash loudly rather than keep running on a state that may lose committed data.
 * Kept on in production (TigerBeetle style): the cost is a branch, the benefit is not corrupting a quorum.
 */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new InvariantError(typeof message === 'string' ? message : message());
  }
}
