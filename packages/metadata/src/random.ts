/**
 * The controller's only source of randomness (replica placement start, topic ids). The same shape as
 * the Raft core's `Random`, so a driver can pass one seeded generator to both; tests pass a fake.
 */
export interface Random {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}
