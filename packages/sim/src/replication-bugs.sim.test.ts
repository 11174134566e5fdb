import { describe, expect, it } from 'vitest';
import { SafetyViolation } from './raft-checker.js';
import { type ReplicationSimOptions, runReplicationSimulation } from './replication-cluster.js';
import {
  endOffsetUnknownBelowFirstEpoch,
  type ReintroducedBug,
  unansweredAlterPartitionReverted,
} from './testing/reintroduced-bugs.js';

/**
 * The replication simulation must keep finding the two bugs it found: each is put back as a variant
 * of a replica's production part (testing/reintroduced-bugs.ts), and on its seeds the checker must
 * report a violation, while the same seeds with production's parts pass. The seeds are the ones of
 * the CI range (replication.sim.test.ts) that fail with the bug back.
 *
 * A change that moves the seeds' random trajectories can make a pinned seed pass with the bug back
 * even though the checker would still catch it elsewhere; then find the new seeds with
 *   SIM_BUG_SWEEP=1 npx vitest run packages/sim/src/replication-bugs.sim.test.ts
 * which runs the CI range with each bug back (5.5 minutes on the loaded 2-core development
 * machine) and prints every failing seed.
 */

/** As replication.sim.test.ts runs every seed. */
const CHAOS_MS = 10_000;
const LIVENESS_BOUND_MS = 10_000;
/** The CI range of replication.sim.test.ts, for the sweep. */
const SEEDS_BY_REPLICAS = new Map([
  [3, 1500],
  [5, 500],
]);
const SWEEP_TIMEOUT_MS = 900_000;

interface PinnedSeed {
  readonly seed: number;
  readonly replicas: number;
  /** The violation the checker reports with the bug back. */
  readonly violation: RegExp;
}

const cases: readonly { readonly bug: ReintroducedBug; readonly seeds: readonly PinnedSeed[] }[] = [
  {
    bug: endOffsetUnknownBelowFirstEpoch,
    seeds: [
      // A follower stuck behind a batch it cannot append.
      {
        seed: 318,
        replicas: 3,
        violation: /liveness: no acknowledged batch reached all 3 replicas within 10000 ms of the final heal/,
      },
      // A follower kept batches of a dead epoch, and its high watermark covered them.
      { seed: 1117, replicas: 3, violation: /replicas \d \(hw \d+\) and \d \(hw \d+\) disagree below \d+/ },
    ],
  },
  {
    bug: unansweredAlterPartitionReverted,
    // The leader's high watermark stopped waiting for a member the controller had added and elected.
    seeds: [
      { seed: 488, replicas: 5, violation: /acknowledged \[\d+\.\.\d+\] .* is not on leader \d of epoch/ },
    ],
  },
];

function simulate(seed: number, replicas: number, bug: ReintroducedBug | undefined) {
  const options: ReplicationSimOptions = {
    seed,
    replicas,
    chaosMs: CHAOS_MS,
    livenessBoundMs: LIVENESS_BOUND_MS,
    ...(bug === undefined ? {} : { parts: bug.parts }),
  };
  return runReplicationSimulation(options);
}

/** The violation a run reports, or undefined when it passes; anything but a SafetyViolation is rethrown. */
async function violationOf(seed: number, replicas: number, bug: ReintroducedBug | undefined) {
  try {
    await simulate(seed, replicas, bug);
    return undefined;
  } catch (error) {
    if (error instanceof SafetyViolation) return error.message;
    throw error;
  }
}

const sweep = process.env.SIM_BUG_SWEEP !== undefined;

describe('the replication simulation still finds the bugs it found', () => {
  if (sweep) {
    it(
      'sweep: with each bug back, some seed of the CI range fails',
      async () => {
        for (const { bug } of cases) {
          const failing: string[] = [];
          for (const [replicas, seedCount] of SEEDS_BY_REPLICAS) {
            for (let seed = 1; seed <= seedCount; seed++) {
              const violation = await violationOf(seed, replicas, bug);
              if (violation !== undefined) failing.push(`${seed}/${replicas}: ${violation.split('\n')[0]}`);
            }
          }
          console.log(`${bug.name}: ${failing.length} failing seeds\n  ${failing.join('\n  ')}`);
          expect(failing.length).toBeGreaterThan(0);
        }
      },
      SWEEP_TIMEOUT_MS,
    );
    return;
  }
  for (const { bug, seeds } of cases) {
    for (const { seed, replicas, violation } of seeds) {
      it(`${bug.name}: seed ${seed} / ${replicas} replicas fails with it back, passes without`, async () => {
        const withBug = await violationOf(seed, replicas, bug);
        expect(withBug, `seed ${seed}/${replicas} passed with the bug back`).toMatch(violation);
        expect(await violationOf(seed, replicas, undefined)).toBeUndefined();
      });
    }
  }
});
