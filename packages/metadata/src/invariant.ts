/**
 * Thrown when a metadata record would break an invariant of the image (a partition change for an
 * unknown topic, a leader outside the ISR, ...). It is a bug in the controller or a corrupt log, never
 * an expected failure: every broker applies the same log, so carrying on would spread the damage.
 * Kept on in production: the cost is a branch per check.
 */
export class MetadataInvariantError extends Error {
  override readonly name = 'MetadataInvariantError';
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new MetadataInvariantError(typeof message === 'string' ? message : message());
  }
}
