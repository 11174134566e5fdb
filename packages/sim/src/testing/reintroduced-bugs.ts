// Two bugs the replication simulation found, put back as variants of the production parts a
// simulated replica is built from (SimReplicaParts), so that replication-bugs.sim.test.ts can show
// the simulation still finds them. Test support only: nothing outside the tests uses these.

import {
  type EpochEndOffset,
  LeaderEpochCache,
  undefinedEpoch,
  undefinedEpochOffset,
} from '@gregor/replication';
import type { SimReplicaParts } from '../replication-broker.js';

/**
 * LeaderEpochCache.endOffsetFor as it was before 5d1d652: "unknown" ({-1, -1}) for an epoch older
 * than every epoch the cache knows, where Kafka (and the fix) answers that epoch ending at the first
 * known epoch's start. A leader that never saw a follower's last epoch then reports no divergence,
 * and the follower keeps batches of a dead epoch.
 */
export class UnknownBelowFirstEpochCache extends LeaderEpochCache {
  override endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const first = this.entries[0];
    if (requestedEpoch !== undefinedEpoch && first !== undefined && first.epoch > requestedEpoch) {
      return { epoch: undefinedEpoch, endOffset: undefinedEpochOffset };
    }
    return super.endOffsetFor(requestedEpoch, logEndOffset);
  }
}

export interface ReintroducedBug {
  /** What the bug was and the commit that fixed it. */
  readonly name: string;
  readonly parts: SimReplicaParts;
}

/** The endOffsetFor bug fixed in 5d1d652. */
export const endOffsetUnknownBelowFirstEpoch: ReintroducedBug = {
  name: 'endOffsetFor answers {-1, -1} below the first known epoch (fixed in 5d1d652)',
  parts: { epochCache: (entries) => new UnknownBelowFirstEpochCache(entries) },
};

/**
 * Before 744270b an AlterPartition without an answer (a timeout, no controller, a controller that
 * lost its quorum) counted as refused and the leader reverted to the committed ISR, instead of
 * keeping the change pending and resending it. With no answer counted as "outcome unknown",
 * IsrProposals behaves exactly so.
 */
export const unansweredAlterPartitionReverted: ReintroducedBug = {
  name: 'an unanswered AlterPartition is reverted instead of resent (fixed in 744270b)',
  parts: { alterPartitionOutcomeUnknown: new Set<number>() },
};
