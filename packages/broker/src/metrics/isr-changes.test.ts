import { applyRecords, MetadataImage, type MetadataRecord, uuidFromBytes } from '@gregor/metadata';
import { describe, expect, it } from 'vitest';
import { isrChanges } from './isr-changes.js';

const topicId = uuidFromBytes(Buffer.alloc(16, 7));

function partition(partitionIndex: number, leader: number, isr: number[]): MetadataRecord {
  return {
    type: 'partition',
    topicId,
    partitionIndex,
    replicas: [1, 2, 3],
    isr,
    leader,
    leaderEpoch: 0,
    partitionEpoch: 0,
  };
}

function register(brokerId: number): MetadataRecord[] {
  return [
    {
      type: 'registerBroker',
      brokerId,
      incarnationId: uuidFromBytes(Buffer.alloc(16, brokerId)),
      brokerEpoch: brokerId,
      listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9092 + brokerId, securityProtocol: 0 }],
      rack: null,
      fenced: true,
      inControlledShutdown: false,
    },
    { type: 'unfenceBroker', brokerId, brokerEpoch: brokerId },
  ];
}

const base = applyRecords(MetadataImage.empty, [
  ...[1, 2, 3].flatMap(register),
  { type: 'topic', name: 'orders', topicId },
  partition(0, 1, [1, 2, 3]),
  partition(1, 2, [2, 3, 1]),
  partition(2, 1, [1, 2]),
]);

function change(index: number, leader: number | null, isr: number[] | null): MetadataRecord {
  return { type: 'partitionChange', topicId, partitionIndex: index, leader, isr };
}

describe('isrChanges', () => {
  it('counts shrinks and expands of the partitions the broker leads in both images', () => {
    const next = applyRecords(base, [
      change(0, null, [1, 2]),
      change(1, null, [2, 3]),
      change(2, null, [1, 2, 3]),
    ]);
    expect(isrChanges(base, next, 1)).toEqual({ shrinks: 1, expands: 1 });
    expect(isrChanges(base, next, 2)).toEqual({ shrinks: 1, expands: 0 });
    expect(isrChanges(base, next, 3)).toEqual({ shrinks: 0, expands: 0 });
  });

  it('does not count a partition whose leadership moved, nor a new topic', () => {
    const moved = applyRecords(base, [change(0, 2, [2, 3])]);
    expect(isrChanges(base, moved, 1)).toEqual({ shrinks: 0, expands: 0 });
    expect(isrChanges(base, moved, 2)).toEqual({ shrinks: 0, expands: 0 });
    expect(isrChanges(MetadataImage.empty, base, 1)).toEqual({ shrinks: 0, expands: 0 });
  });

  it('is nothing for an image whose topics did not change', () => {
    const next = applyRecords(base, [{ type: 'controllerActivation', controllerId: 1, controllerEpoch: 1 }]);
    expect(next.topics).toBe(base.topics);
    expect(isrChanges(base, next, 1)).toEqual({ shrinks: 0, expands: 0 });
  });
});
