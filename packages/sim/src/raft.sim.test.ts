import { describe, expect, it } from 'vitest';
import { type RaftSimResult, runRaftSimulation } from './raft-cluster.js';

/**
 * Deterministic Raft simulation over a fixed seed range (CI), or one seed to replay a failure:
 *   SIM_SEED=<seed> SIM_VOTERS=<n> npx vitest run packages/sim/src/raft.sim.test.ts
 */
const SEEDS_PER_SIZE = 1000;
const CLUSTER_SIZES = [3, 5];
/** Faults for this long, then everything heals. */
const CHAOS_MS = 20_000;
/** After the final heal, a new proposal must be committed on every node within this simulated time. */
const LIVENESS_BOUND_MS = 10_000;

const replaySeed = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
const replayVoters = process.env.SIM_VOTERS === undefined ? undefined : Number(process.env.SIM_VOTERS);

function runSeed(seed: number, voters: number): RaftSimResult {
  try {
    return runRaftSimulation({ seed, voters, chaosMs: CHAOS_MS, livenessBoundMs: LIVENESS_BOUND_MS });
  } catch (error) {
    const replay = `SIM_SEED=${seed} SIM_VOTERS=${voters} npx vitest run packages/sim/src/raft.sim.test.ts`;
    console.error(`Raft simulation failed. Replay with:\n  ${replay}`);
    if (error instanceof Error) error.message += `\nreplay: ${replay}`;
    throw error;
  }
}

describe('Raft under simulated faults', () => {
  const sizes = replayVoters === undefined ? CLUSTER_SIZES : [replayVoters];
  for (const voters of sizes) {
    it(`${voters} voters: safety at every step, recovery within ${LIVENESS_BOUND_MS} ms of healing`, () => {
      const seeds =
        replaySeed === undefined
          ? Array.from({ length: SEEDS_PER_SIZE }, (_, index) => index + 1)
          : [replaySeed];
      let events = 0;
      let committed = 0;
      let snapshots = 0;
      let crashes = 0;
      let worstRecoveryMs = 0;
      for (const seed of seeds) {
        const result = runSeed(seed, voters);
        events += result.events;
        committed += result.committedEntries;
        snapshots += result.snapshotsInstalled;
        crashes += result.crashes;
        worstRecoveryMs = Math.max(worstRecoveryMs, result.recoveryMs);
        expect(result.recoveryMs).toBeLessThanOrEqual(LIVENESS_BOUND_MS);
      }
      console.log(
        `${voters} voters, ${seeds.length} seeds: ${events} events, ${committed} committed entries, ` +
          `${crashes} crashes, ${snapshots} snapshots sent to followers, worst recovery ${worstRecoveryMs} ms`,
      );
      // The workload must actually exercise the protocol, or the safety checks prove nothing.
      expect(committed).toBeGreaterThan(seeds.length * 10);
      if (replaySeed === undefined) expect(snapshots).toBeGreaterThan(0);
    });
  }
});
