// A small deterministic generator for the in-process controller (topic ids, replica placement).

import type { Random } from '@gregor/metadata';

export function seededRandom(seed: number): Random {
  // xorshift32; a zero state would stay zero.
  let state = seed >>> 0 || 0x9e3779b9;
  return {
    nextInt(maxExclusive: number): number {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      return state % maxExclusive;
    },
  };
}
