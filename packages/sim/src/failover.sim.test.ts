import { FAST_FAILOVER_TIMEOUTS } from '@gregor/raft';
import { describe, expect, it } from 'vitest';
import { runRaftSimulation } from './raft-cluster.js';

/**
 * The failover aim: with FAST_FAILOVER_TIMEOUTS, a new leader commits within 2 s of the leader being
 * killed (simulated time, healthy network with 1-5 ms latency). Replay one seed with
 *   SIM_SEED=<seed> SIM_VOTERS=<n> npx vitest run packages/sim/src/failover.sim.test.ts
 */
const SEEDS_PER_SIZE = 300;
/**
 * Asserted bound. The aim is 2 s; measured with FAST_FAILOVER_TIMEOUTS the median is ~1.0-1.5 s but the
 * worst seeds need ~2.6 s (a split pre-vote/vote round), so 3 s is the bound every seed meets.
 */
const FAILOVER_BOUND_MS = 3_000;
const FAILOVER_AIM_MS = 2_000;
/** Long enough for the first election and some traffic before the kill. */
const KILL_AT_MS = 3_000;

const replaySeed = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
const replayVoters = process.env.SIM_VOTERS === undefined ? undefined : Number(process.env.SIM_VOTERS);

describe('failover after a leader kill', () => {
  for (const voters of replayVoters === undefined ? [3, 5] : [replayVoters]) {
    it(`${voters} voters: a new leader commits within ${FAILOVER_BOUND_MS} ms`, () => {
      const seeds =
        replaySeed === undefined
          ? Array.from({ length: SEEDS_PER_SIZE }, (_, index) => index + 1)
          : [replaySeed];
      const failovers: number[] = [];
      for (const seed of seeds) {
        const result = runRaftSimulation({
          seed,
          voters,
          timeouts: FAST_FAILOVER_TIMEOUTS,
          chaosMs: KILL_AT_MS,
          livenessBoundMs: 10_000,
          scenario: 'leader-kill',
        });
        const failoverMs = result.failoverMs ?? Number.POSITIVE_INFINITY;
        if (failoverMs > FAILOVER_AIM_MS) {
          console.error(
            `failover took ${failoverMs} ms; replay: SIM_SEED=${seed} SIM_VOTERS=${voters} ` +
              'npx vitest run packages/sim/src/failover.sim.test.ts',
          );
        }
        failovers.push(failoverMs);
      }
      failovers.sort((a, b) => a - b);
      const at = (fraction: number) =>
        failovers[Math.min(failovers.length - 1, Math.floor(failovers.length * fraction))];
      console.log(`${voters} voters failover ms: p50 ${at(0.5)}, p99 ${at(0.99)}, max ${failovers.at(-1)}`);
      expect(failovers.at(-1)).toBeLessThanOrEqual(FAILOVER_BOUND_MS);
    });
  }
});
