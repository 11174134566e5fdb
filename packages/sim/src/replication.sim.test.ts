import { describe, expect, it } from 'vitest';
import { type ReplicationSimResult, runReplicationSimulation } from './replication-cluster.js';

/**
 * Deterministic replication simulation over a fixed seed range (CI), or one seed to replay a failure:
 *   SIM_SEED=<seed> SIM_REPLICAS=<n> npx vitest run packages/sim/src/replication.sim.test.ts
 */
const SEEDS_BY_REPLICAS = new Map([
  [3, 1500],
  [5, 500],
]);
/** Faults for this long, then everything heals. */
const CHAOS_MS = 10_000;
/** After the final heal, a newly acknowledged batch must be on every replica within this simulated time. */
const LIVENESS_BOUND_MS = 10_000;
/**
 * A guard against a hung run, not a speed check: the production modules run on promises, so every
 * simulated event is followed by a drain of its continuations; 1,500 seeds take about 30 s of CPU
 * on the 2-core development machine (npm run bench:… is where speed is measured).
 */
const TEST_TIMEOUT_MS = 900_000;

const replaySeed = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
const replayReplicas = process.env.SIM_REPLICAS === undefined ? undefined : Number(process.env.SIM_REPLICAS);

async function runSeed(seed: number, replicas: number): Promise<ReplicationSimResult> {
  try {
    return await runReplicationSimulation({
      seed,
      replicas,
      chaosMs: CHAOS_MS,
      livenessBoundMs: LIVENESS_BOUND_MS,
      // SIM_TRACE=1 with SIM_SEED prints the run's notable events.
      ...(process.env.SIM_TRACE === undefined ? {} : { trace: (line: string) => console.log(line) }),
    });
  } catch (error) {
    const replay = `SIM_SEED=${seed} SIM_REPLICAS=${replicas} npx vitest run packages/sim/src/replication.sim.test.ts`;
    console.error(`Replication simulation failed. Replay with:\n  ${replay}`);
    if (error instanceof Error) error.message += `\nreplay: ${replay}`;
    throw error;
  }
}

describe('replication under simulated faults', () => {
  const sizes = replayReplicas === undefined ? [...SEEDS_BY_REPLICAS.keys()] : [replayReplicas];
  for (const replicas of sizes) {
    it(
      `${replicas} replicas: safety at every step, an acknowledged batch everywhere within ${LIVENESS_BOUND_MS} ms of healing`,
      async () => {
        const seedCount = SEEDS_BY_REPLICAS.get(replicas) ?? 1;
        const seeds =
          replaySeed === undefined
            ? Array.from({ length: seedCount }, (_, index) => index + 1)
            : [replaySeed];
        const totals = {
          events: 0,
          acknowledged: 0,
          crashes: 0,
          lossyCrashes: 0,
          lostBatches: 0,
          elections: 0,
          truncations: 0,
          isrChanges: 0,
          worstRecoveryMs: 0,
        };
        for (const seed of seeds) {
          const result = await runSeed(seed, replicas);
          totals.events += result.events;
          totals.acknowledged += result.acknowledgedBatches;
          totals.crashes += result.crashes;
          totals.lossyCrashes += result.lossyCrashes;
          totals.lostBatches += result.lostBatches;
          totals.elections += result.leaderElections;
          totals.truncations += result.divergenceTruncations;
          totals.isrChanges += result.isrChanges;
          totals.worstRecoveryMs = Math.max(totals.worstRecoveryMs, result.recoveryMs);
        }
        console.log(
          `${replicas} replicas, ${seeds.length} seeds: ${totals.events} events, ${totals.acknowledged} acknowledged ` +
            `batches, ${totals.crashes} crashes (${totals.lossyCrashes} lost ${totals.lostBatches} unsynced batches), ` +
            `${totals.elections} leader elections, ${totals.isrChanges} ISR changes, ${totals.truncations} ` +
            `follower truncations, worst recovery ${totals.worstRecoveryMs} ms`,
        );
        // The workload must exercise what the checks are about, or they prove nothing.
        expect(totals.acknowledged).toBeGreaterThan(seeds.length * 20);
        if (replaySeed === undefined) {
          expect(totals.lostBatches).toBeGreaterThan(0);
          expect(totals.truncations).toBeGreaterThan(0);
          expect(totals.elections).toBeGreaterThan(seeds.length);
        }
      },
      TEST_TIMEOUT_MS,
    );
  }
});
