// Randomness enters Gregor's code only through a Random: the pure cores (Raft elections, replica
// placement, topic and member ids) take one as a parameter, so a seeded generator replays a run.

export interface Random {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

/**
 * Math.random, for drivers where values only need to differ between nodes (election timeouts), not
 * to replay: the cores that must replay take their Random as a parameter.
 */
export const systemRandom: Random = Object.freeze({
  nextInt: (maxExclusive: number) => Math.floor(Math.random() * maxExclusive),
});

/**
 * xoshiro128** (Blackman & Vigna), seeded through splitmix32. Small, fast, 32-bit only (no BigInt),
 * and the same seed gives the same sequence on every platform: that is what makes a failing seed
 * replayable (the simulations print theirs).
 */
export class SeededRandom implements Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let state = seed >>> 0;
    const splitmix32 = (): number => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix32();
    this.s1 = splitmix32();
    this.s2 = splitmix32();
    this.s3 = splitmix32();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** In [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  nextInt(maxExclusive: number): number {
    if (!(maxExclusive >= 1)) throw new RangeError(`nextInt(${maxExclusive}): need at least 1`);
    return Math.floor(this.nextFloat() * maxExclusive);
  }

  /** In [minInclusive, maxExclusive). */
  between(minInclusive: number, maxExclusive: number): number {
    return minInclusive + this.nextInt(maxExclusive - minInclusive);
  }

  chance(probability: number): boolean {
    return this.nextFloat() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.nextInt(items.length)];
    if (item === undefined) throw new RangeError('pick() from an empty list');
    return item;
  }

  /** An independent generator derived from this one (one per simulated node). */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
