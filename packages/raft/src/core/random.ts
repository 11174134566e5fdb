/**
 * The only source of randomness the core sees. The broker passes a seeded generator too, so a failure
 * seen in production can in principle be replayed; the simulation passes its own seeded PRNG.
 */
export interface Random {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}
