import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { subscribedTopicsOf } from './consumer-subscription.js';
import type { OffsetDeleteRequest, OffsetDeleteResponse } from './messages.js';
import { decodeOffsetsRecord } from './offsets-records.js';
import { Harness, consumerSubscription as subscription } from './testing/coordinator-harness.js';

function request(groupId: string, partitions: Record<string, number[]>): OffsetDeleteRequest {
  return {
    groupId,
    topics: Object.entries(partitions).map(([name, indexes]) => ({
      name,
      partitions: indexes.map((partitionIndex) => ({ partitionIndex })),
    })),
  };
}

function errors(response: OffsetDeleteResponse): Record<string, number> {
  const result: Record<string, number> = {};
  for (const topic of response.topics) {
    for (const p of topic.partitions) result[`${topic.name}:${p.partitionIndex}`] = p.errorCode;
  }
  return result;
}

describe('OffsetDelete', () => {
  it('deletes any offset of an Empty group, with tombstones written before it answers', () => {
    const h = new Harness();
    h.commit('idle', '', -1, { 't:0': 3, 't:1': 4, 'u:0': 5 });
    h.autoAppend = false;
    const requestId = h.send((id, now) =>
      h.coordinator.offsetDelete(id, request('idle', { t: [0, 1, 2] }), now),
    );
    expect(h.answered(requestId)).toBe(false);
    expect(h.outstanding[0]!.records.map((r) => decodeOffsetsRecord(r))).toEqual([
      { kind: 'offsetCommit', group: 'idle', topic: 't', partition: 0, value: null },
      { kind: 'offsetCommit', group: 'idle', topic: 't', partition: 1, value: null },
    ]);
    h.completeAppend();
    const response = h.response<OffsetDeleteResponse>(requestId);
    expect(response.errorCode).toBe(ErrorCode.NONE);
    // A partition with nothing committed is answered NONE and writes nothing.
    expect(errors(response)).toEqual({ 't:0': 0, 't:1': 0, 't:2': 0 });
    expect(h.fetchOffsets('idle', null)).toEqual({ 'u:0': 5 });
  });

  it('refuses topics a consumer member subscribes to, deleting the others', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup('busy', 1, {
      protocols: [{ name: 'range', metadata: subscription('t') }],
    });
    h.commit('busy', memberIds[0]!, generationId, { 't:0': 3, 'old:0': 7 });
    const response = h.call<OffsetDeleteResponse>((id, now) =>
      h.coordinator.offsetDelete(id, request('busy', { t: [0], old: [0] }), now),
    );
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(errors(response)).toEqual({ 't:0': ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, 'old:0': 0 });
    expect(h.fetchOffsets('busy', null)).toEqual({ 't:0': 3 });
  });

  it('NON_EMPTY_GROUP for members of another protocol type, GROUP_ID_NOT_FOUND, and all subscribed when unreadable', () => {
    const h = new Harness();
    h.stableGroup('connect', 1, { protocolType: 'connect' });
    expect(
      h.call<OffsetDeleteResponse>((id, now) =>
        h.coordinator.offsetDelete(id, request('connect', { t: [0] }), now),
      ),
    ).toEqual({ api: 'OffsetDelete', errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] });
    expect(
      h.call<OffsetDeleteResponse>((id, now) =>
        h.coordinator.offsetDelete(id, request('never', { t: [0] }), now),
      ).errorCode,
    ).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    // The harness's members join with metadata that is no consumer subscription.
    const { memberIds, generationId } = h.stableGroup('opaque', 1);
    h.commit('opaque', memberIds[0]!, generationId, { 'x:0': 1 });
    const opaque = h.call<OffsetDeleteResponse>((id, now) =>
      h.coordinator.offsetDelete(id, request('opaque', { x: [0] }), now),
    );
    expect(errors(opaque)).toEqual({ 'x:0': ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC });
  });

  it('survives a reload of the offsets partition, and keeps the offsets when the tombstones fail', () => {
    const h = new Harness({ offsetsPartitionCount: 1 });
    h.commit('idle', '', -1, { 't:0': 3, 't:1': 4 });
    h.autoAppend = false;
    const failed = h.send((id, now) => h.coordinator.offsetDelete(id, request('idle', { t: [1] }), now));
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(errors(h.response<OffsetDeleteResponse>(failed))).toEqual({
      't:1': ErrorCode.COORDINATOR_NOT_AVAILABLE,
    });
    expect(h.fetchOffsets('idle', null)).toEqual({ 't:0': 3, 't:1': 4 });
    h.autoAppend = true;
    h.call((id, now) => h.coordinator.offsetDelete(id, request('idle', { t: [1] }), now));

    const other = new Harness({ offsetsPartitionCount: 1 });
    other.apply(other.coordinator.unloadPartition(0));
    other.coordinator.loadPartition(0, h.logs.get(0)!, other.nowMs);
    expect(other.fetchOffsets('idle', null)).toEqual({ 't:0': 3 });
  });

  it('reads the topics of a consumer subscription, and nothing from other bytes', () => {
    expect(subscribedTopicsOf(subscription('a', 'b'))).toEqual(['a', 'b']);
    expect(subscribedTopicsOf(Buffer.from('range-subscription'))).toBeNull();
    expect(subscribedTopicsOf(Buffer.alloc(0))).toBeNull();
  });
});
