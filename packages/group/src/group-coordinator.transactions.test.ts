import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { GroupEffect, TxnOffsetCommitRequest, TxnOffsetCommitResponse } from './messages.js';
import { Harness } from './testing/coordinator-harness.js';

function txnCommit(
  groupId: string,
  producerId: number,
  offsets: Record<string, number>,
): TxnOffsetCommitRequest {
  const topics = new Map<
    string,
    {
      partitionIndex: number;
      committedOffset: bigint;
      committedLeaderEpoch: number;
      committedMetadata: string | null;
    }[]
  >();
  for (const [key, offset] of Object.entries(offsets)) {
    const [topic, partition] = key.split(':') as [string, string];
    const list = topics.get(topic) ?? [];
    list.push({
      partitionIndex: Number(partition),
      committedOffset: BigInt(offset),
      committedLeaderEpoch: -1,
      committedMetadata: '',
    });
    topics.set(topic, list);
  }
  return {
    transactionalId: 'tx',
    groupId,
    producerId,
    producerEpoch: 0,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
  };
}

describe('GroupCoordinator: transactional offsets', () => {
  it('holds TxnOffsetCommit offsets until the commit marker, appended in a transactional batch', () => {
    const harness = new Harness();
    const appends: GroupEffect[] = [];
    const original = harness.apply.bind(harness);
    harness.apply = (effects) => {
      appends.push(...effects.filter((effect) => effect.kind === 'append'));
      original(effects);
    };
    const response = harness.call<TxnOffsetCommitResponse>((requestId, nowMs) =>
      harness.coordinator.txnOffsetCommit(requestId, txnCommit('g', 7, { 't:0': 5, 't:1': 9 }), nowMs),
    );
    expect(response.api).toBe('TxnOffsetCommit');
    expect(response.topics[0]!.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    expect(appends[0]).toMatchObject({ kind: 'append', producer: { producerId: 7, producerEpoch: 0 } });
    // Not committed yet, and unstable for a consumer that asks for stable offsets.
    expect(harness.fetchOffsets('g', { t: [0, 1] })).toEqual({ 't:0': -1, 't:1': -1 });
    expect(harness.fetch('g', { t: [0] }, true).topics[0]!.partitions[0]!.errorCode).toBe(
      ErrorCode.UNSTABLE_OFFSET_COMMIT,
    );
    harness.apply(harness.coordinator.completeTransaction(0, 7, true, harness.nowMs));
    expect(harness.fetchOffsets('g', { t: [0, 1] })).toEqual({ 't:0': 5, 't:1': 9 });
  });

  it('drops the offsets of an aborted transaction', () => {
    const harness = new Harness();
    harness.call((requestId, nowMs) =>
      harness.coordinator.offsetCommit(
        requestId,
        {
          groupId: 'g',
          generationId: -1,
          memberId: '',
          groupInstanceId: null,
          retentionTimeMs: -1,
          topics: [
            {
              name: 't',
              partitions: [
                {
                  partitionIndex: 0,
                  committedOffset: 3n,
                  committedLeaderEpoch: -1,
                  commitTimestampMs: -1,
                  committedMetadata: '',
                },
              ],
            },
          ],
        },
        nowMs,
      ),
    );
    harness.call((requestId, nowMs) =>
      harness.coordinator.txnOffsetCommit(requestId, txnCommit('g', 8, { 't:0': 10 }), nowMs),
    );
    harness.apply(harness.coordinator.completeTransaction(0, 8, false, harness.nowMs));
    expect(harness.fetchOffsets('g', { t: [0] })).toEqual({ 't:0': 3 });
    expect(harness.fetch('g', { t: [0] }, true).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  });

  it('checks the member and generation a TxnOffsetCommit names', () => {
    const harness = new Harness();
    const response = harness.call<TxnOffsetCommitResponse>((requestId, nowMs) =>
      harness.coordinator.txnOffsetCommit(
        requestId,
        { ...txnCommit('g', 7, { 't:0': 1 }), memberId: 'nobody', generationId: 3 },
        nowMs,
      ),
    );
    expect(response.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('restores offsets of a transaction still open when the partition was loaded', () => {
    const harness = new Harness();
    harness.call((requestId, nowMs) =>
      harness.coordinator.txnOffsetCommit(requestId, txnCommit('g', 7, { 't:0': 5 }), nowMs),
    );
    const log = harness.logs.get(0)!;
    const successor = new Harness();
    successor.apply(successor.coordinator.unloadPartition(0));
    successor.coordinator.beginLoad(0);
    successor.coordinator.completeLoad(0, successor.nowMs);
    successor.apply(successor.coordinator.loadPendingTransactionalOffsets(0, 7, log, successor.nowMs));
    expect(successor.fetchOffsets('g', { t: [0] })).toEqual({ 't:0': -1 });
    successor.apply(successor.coordinator.completeTransaction(0, 7, true, successor.nowMs));
    expect(successor.fetchOffsets('g', { t: [0] })).toEqual({ 't:0': 5 });
  });
});
