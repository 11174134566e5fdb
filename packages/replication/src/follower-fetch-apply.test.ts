import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import {
  applyFollowerFetch,
  type FollowerFetchContext,
  type FollowerLogWriter,
  planFollowerFetch,
} from './follower-fetch-apply.js';
import { failedReplicaFetch, type ReplicaFetchPartitionResult } from './follower-fetch-serving.js';
import { Partition } from './partition.js';
import { BatchOffsets, batch, registration } from './testing/index.js';

/** Broker 2 follows leader 1 in epoch 3; it holds 0..4 written in epoch 0 and 5..6 in epoch 1. */
function follower(): {
  partition: Partition<BatchOffsets>;
  log: BatchOffsets;
  context: FollowerFetchContext;
} {
  const log = new BatchOffsets();
  log.append(5);
  log.append(2);
  const partition = new Partition('t', 'id', 0, log, 2, registration(1, 3, [1, 2]));
  partition.epochCache.assign(0, 0);
  partition.epochCache.assign(1, 5);
  partition.makeFollower(registration(1, 3, [1, 2]));
  return { partition, log, context: { leaderId: 1, leaderEpoch: 3, fetchOffset: 7 } };
}

function answer(fields: Partial<ReplicaFetchPartitionResult>): ReplicaFetchPartitionResult {
  return { ...failedReplicaFetch('t', 0, ErrorCode.NONE), highWatermark: 0, leaderEpoch: 3, ...fields };
}

/** Carries plans out on `log`, recording the order of the steps. */
function recordingWriter(log: BatchOffsets, steps: string[]): FollowerLogWriter {
  return {
    truncateTo: async (offset) => {
      steps.push(`truncateTo ${offset}`);
      log.truncateTo(offset);
    },
    truncateFullyAndStartAt: async (offset) => {
      steps.push(`truncateFullyAndStartAt ${offset}`);
      log.truncateFullyAndStartAt(offset);
    },
    afterTruncation: async () => {
      steps.push('afterTruncation');
    },
    persistEpochCache: async () => {
      steps.push('persistEpochCache');
    },
    appendAsFollower: async (records) => {
      steps.push(`append ${records.length} bytes`);
      log.append(2);
    },
    incrementLogStartOffset: async (offset) => {
      steps.push(`incrementLogStartOffset ${offset}`);
      log.logStartOffset = offset;
    },
  };
}

describe('planFollowerFetch', () => {
  it('drops an answer to a fetch the partition has moved past', () => {
    const { partition, context } = follower();
    const result = answer({ records: batch(7, 2, 3) });
    expect(planFollowerFetch(partition, { ...context, leaderEpoch: 2 }, result)).toEqual({ kind: 'stale' });
    expect(planFollowerFetch(partition, { ...context, fetchOffset: 5 }, result)).toEqual({ kind: 'stale' });
    expect(planFollowerFetch(partition, { ...context, leaderId: 3 }, result)).toEqual({ kind: 'stale' });
  });

  it('backs off on an error, truncates to the leader log end when ahead of it, starts over when behind its start', () => {
    const { partition, context } = follower();
    expect(
      planFollowerFetch(partition, context, answer({ errorCode: ErrorCode.FENCED_LEADER_EPOCH })),
    ).toEqual({
      kind: 'backOff',
      errorCode: ErrorCode.FENCED_LEADER_EPOCH,
    });
    const ahead = answer({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, logStartOffset: 0, logEndOffset: 6 });
    expect(planFollowerFetch(partition, context, ahead)).toMatchObject({ kind: 'truncate', offset: 6 });
    const behind = answer({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, logStartOffset: 20, logEndOffset: 30 });
    expect(planFollowerFetch(partition, context, behind)).toMatchObject({
      kind: 'truncateFullyAndStartAt',
      offset: 20,
    });
  });

  it('truncates where the logs agree after a diverging epoch', () => {
    const { partition, context } = follower();
    // The leader's epoch 1 ended at 6: offset 6 of this follower is not the leader's.
    const plan = planFollowerFetch(
      partition,
      context,
      answer({ divergingEpoch: { epoch: 1, endOffset: 6 } }),
    );
    expect(plan).toEqual({ kind: 'truncate', offset: 6, why: 'diverging epoch 1' });
  });

  it('names the epochs the fetched batches start that the cache does not hold yet', () => {
    const { partition, context } = follower();
    const records = Buffer.concat([batch(7, 1, 1), batch(8, 2, 3), batch(10, 1, 3)]);
    expect(planFollowerFetch(partition, context, answer({ records, highWatermark: 9 }))).toEqual({
      kind: 'append',
      newEpochs: [{ epoch: 3, startOffset: 8 }],
      records,
      highWatermark: 9,
      logStartOffset: -1,
    });
  });
});

describe('applyFollowerFetch', () => {
  it('makes new epochs durable before it appends, then follows the leader high watermark', async () => {
    const { partition, log, context } = follower();
    const steps: string[] = [];
    const records = batch(7, 2, 3);
    const applied = await applyFollowerFetch(
      partition,
      context,
      answer({ records, highWatermark: 8 }),
      recordingWriter(log, steps),
    );
    expect(steps).toEqual(['persistEpochCache', `append ${records.length} bytes`]);
    expect(applied).toEqual({ kind: 'appended', highWatermarkMoved: true, logStartOffsetMoved: false });
    expect(partition.epochCache.latestEpoch).toBe(3);
    expect(partition.highWatermark).toBe(8);
  });

  it("follows the leader's log start offset up to its own high watermark, durably", async () => {
    const { partition, log, context } = follower();
    const steps: string[] = [];
    // The leader deleted records below 6; this follower holds 0..6 and learns the high watermark 6.
    const applied = await applyFollowerFetch(
      partition,
      context,
      answer({ highWatermark: 6, logStartOffset: 6 }),
      recordingWriter(log, steps),
    );
    expect(applied).toEqual({ kind: 'appended', highWatermarkMoved: true, logStartOffsetMoved: true });
    expect(steps).toEqual(['incrementLogStartOffset 6', 'persistEpochCache']);
    expect(partition.logStartOffset).toBe(6);
    // epoch 0 ended below the new log start: the cache keeps epoch 1 from 5, moved up to 6
    expect(partition.epochCache.entries[0]!.startOffset).toBe(6);

    // A leader's log start above what this follower knows committed is capped at its high watermark.
    const capped = await applyFollowerFetch(
      partition,
      { ...context, fetchOffset: 7 },
      answer({ highWatermark: 7, logStartOffset: 9 }),
      recordingWriter(log, steps),
    );
    expect(capped).toMatchObject({ kind: 'appended', logStartOffsetMoved: true });
    expect(partition.logStartOffset).toBe(7);
  });

  it('truncates, then forgets the removed epochs and persists what is left', async () => {
    const { partition, log, context } = follower();
    const steps: string[] = [];
    const applied = await applyFollowerFetch(
      partition,
      context,
      answer({ divergingEpoch: { epoch: 0, endOffset: 5 } }),
      recordingWriter(log, steps),
    );
    expect(applied).toEqual({ kind: 'truncated', why: 'diverging epoch 0' });
    expect(steps).toEqual(['truncateTo 5', 'afterTruncation', 'persistEpochCache']);
    expect(partition.logEndOffset).toBe(5);
    expect(partition.epochCache.entries).toEqual([{ epoch: 0, startOffset: 0 }]);
  });
});
