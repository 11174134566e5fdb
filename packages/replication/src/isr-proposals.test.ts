import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import {
  type AlterPartitionOutcome,
  type AlterPartitionProposal,
  IsrProposals,
  isrChangeRetryBackoffMs,
} from './isr-proposals.js';
import { silentLogger } from './logger.js';
import { Partition } from './partition.js';
import { BatchOffsets, ManualTime, registration, settle } from './testing/index.js';

const lagMs = 1_000;

/** Broker 1 leads with ISR [1, 2, 3]; the controller answers from `answers`, in order. */
function proposalsFor(answers: AlterPartitionOutcome[]) {
  const time = new ManualTime();
  const log = new BatchOffsets();
  log.append(4);
  const partition = new Partition('t', 'id', 0, log, 1, registration(1, 0, [1, 2, 3]));
  partition.makeLeader(registration(1, 0, [1, 2, 3]), 0);
  const sent: AlterPartitionProposal[] = [];
  const proposals = new IsrProposals({
    alterPartition: async (proposal) => {
      sent.push(proposal);
      const answer = answers.shift();
      if (answer === undefined) throw new Error('no controller');
      return answer;
    },
    clock: time,
    timers: time,
    logger: silentLogger,
    replicaLagTimeMaxMs: lagMs,
    onHighWatermarkMayHaveMoved: () => undefined,
  });
  return { time, partition, sent, proposals };
}

describe('IsrProposals (AlterPartitionManager)', () => {
  it('proposes the lagging followers out, one proposal in flight, pending until the image carries it', async () => {
    const { time, partition, sent, proposals } = proposalsFor([
      { errorCode: ErrorCode.NONE, partitionEpoch: 1 },
    ]);
    partition.recordFollowerFetch(2, 4, 900);
    time.advanceMs(lagMs + 1);
    expect(proposals.shrinkLaggingIsrs([partition], time.nowMs())).toBe(1);
    expect(proposals.shrinkLaggingIsrs([partition], time.nowMs())).toBe(0);
    await settle();
    expect(sent).toEqual([
      { topicId: 'id', partitionIndex: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: [1, 2] },
    ]);
    expect(partition.pendingIsrChange?.proposedIsr).toEqual([1, 2]);
    partition.makeLeader(registration(1, 0, [1, 2], [1, 2, 3], 1), time.nowMs());
    expect(partition.pendingIsrChange).toBeUndefined();
  });

  it('keeps an unanswered proposal pending and resends the same one, never reverting it', async () => {
    const { time, partition, sent, proposals } = proposalsFor([
      { errorCode: ErrorCode.REQUEST_TIMED_OUT, partitionEpoch: -1 },
    ]);
    time.advanceMs(lagMs + 1);
    proposals.shrinkLaggingIsrs([partition], time.nowMs());
    const pending = partition.pendingIsrChange;
    await settle();
    // The second attempt finds no controller at all (the transport rejects): an unknown outcome too.
    time.advanceMs(isrChangeRetryBackoffMs);
    await settle();
    time.advanceMs(isrChangeRetryBackoffMs);
    await settle();
    expect(sent).toHaveLength(3);
    expect(sent[1]).toEqual(sent[0]);
    expect(sent[2]).toEqual(sent[0]);
    expect(partition.pendingIsrChange).toBe(pending);
    // A new epoch settles it: no more resends.
    partition.makeFollower(registration(2, 1, [2, 3]));
    time.advanceMs(isrChangeRetryBackoffMs);
    await settle();
    expect(sent).toHaveLength(3);
  });

  it('a refusal drops the proposal and holds the next one back for the backoff', async () => {
    const { time, partition, sent, proposals } = proposalsFor([
      { errorCode: ErrorCode.INELIGIBLE_REPLICA, partitionEpoch: -1 },
    ]);
    time.advanceMs(lagMs + 1);
    proposals.shrinkLaggingIsrs([partition], time.nowMs());
    await settle();
    expect(partition.pendingIsrChange).toBeUndefined();
    expect(proposals.shrinkLaggingIsrs([partition], time.nowMs())).toBe(0);
    time.advanceMs(isrChangeRetryBackoffMs);
    expect(proposals.shrinkLaggingIsrs([partition], time.nowMs())).toBe(1);
    await settle();
    expect(sent).toHaveLength(2);
  });
});
