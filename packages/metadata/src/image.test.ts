import { InvariantViolation } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { applyRecord, applyRecords, isReplicaOffline, MetadataDelta, MetadataImage } from './image.js';
import type { MetadataRecord } from './records.js';
import { decodeImageSnapshot, encodeImageSnapshot, imageToRecords } from './snapshot.js';
import { uuidFromBytes } from './uuid.js';

const topicId = uuidFromBytes(Buffer.alloc(16, 7));
const otherTopicId = uuidFromBytes(Buffer.alloc(16, 9));

function register(brokerId: number, brokerEpoch: number): MetadataRecord {
  return {
    type: 'registerBroker',
    brokerId,
    incarnationId: uuidFromBytes(Buffer.alloc(16, brokerId)),
    brokerEpoch,
    listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9092 + brokerId, securityProtocol: 0 }],
    rack: null,
    fenced: true,
    inControlledShutdown: false,
  };
}

const cluster: MetadataRecord[] = [
  { type: 'controllerActivation', controllerId: 3000, controllerEpoch: 1 },
  register(1, 0),
  register(2, 1),
  register(3, 2),
  { type: 'unfenceBroker', brokerId: 1, brokerEpoch: 0 },
  { type: 'unfenceBroker', brokerId: 2, brokerEpoch: 1 },
  { type: 'topic', name: 'orders', topicId },
  { type: 'config', resourceType: 2, resourceName: 'orders', name: 'retention.ms', value: '1000' },
  {
    type: 'partition',
    topicId,
    partitionIndex: 0,
    replicas: [1, 2, 3],
    isr: [1, 2],
    leader: 1,
    leaderEpoch: 0,
    partitionEpoch: 0,
  },
  {
    type: 'partition',
    topicId,
    partitionIndex: 1,
    replicas: [2, 3, 1],
    isr: [2, 1],
    leader: 2,
    leaderEpoch: 0,
    partitionEpoch: 0,
  },
  { type: 'producerIds', brokerId: 1, brokerEpoch: 0, nextProducerId: 1000 },
];

function expectInvariantError(image: MetadataImage, record: MetadataRecord, message: RegExp): void {
  expect(() => applyRecord(image, record)).toThrow(InvariantViolation);
  expect(() => applyRecord(image, record)).toThrow(message);
}

describe('MetadataImage', () => {
  const image = applyRecords(MetadataImage.empty, cluster);

  it('holds what the records say', () => {
    expect(image.broker(1)).toMatchObject({ brokerEpoch: 0, fenced: false });
    expect(image.broker(3)).toMatchObject({ brokerEpoch: 2, fenced: true });
    expect(image.highestBrokerEpoch).toBe(2);
    expect(image.topic('orders')!.topicId).toBe(topicId);
    expect(image.topicById(topicId)!.name).toBe('orders');
    expect(image.partition(topicId, 1)).toEqual({
      replicas: [2, 3, 1],
      isr: [2, 1],
      leader: 2,
      leaderEpoch: 0,
      partitionEpoch: 0,
      addingReplicas: [],
      removingReplicas: [],
    });
    expect(image.topicConfigs('orders')).toEqual(new Map([['retention.ms', '1000']]));
    expect(image.producerIds).toEqual({ brokerId: 1, brokerEpoch: 0, nextProducerId: 1000 });
    expect(image.controller).toEqual({ controllerId: 3000, controllerEpoch: 1 });
  });

  it('moves epochs on a partition change: partition epoch always, leader epoch when the leader is set', () => {
    const isrOnly = applyRecord(image, {
      type: 'partitionChange',
      topicId,
      partitionIndex: 0,
      leader: null,
      isr: [1],
    });
    expect(isrOnly.partition(topicId, 0)).toMatchObject({
      leader: 1,
      isr: [1],
      leaderEpoch: 0,
      partitionEpoch: 1,
    });
    const newLeader = applyRecord(isrOnly, {
      type: 'partitionChange',
      topicId,
      partitionIndex: 0,
      leader: -1,
      isr: null,
    });
    expect(newLeader.partition(topicId, 0)).toMatchObject({ leader: -1, leaderEpoch: 1, partitionEpoch: 2 });
  });

  it('never changes the base image, and shares what a delta did not touch', () => {
    const snapshot = encodeImageSnapshot(image);
    const next = applyRecord(image, { type: 'fenceBroker', brokerId: 1, brokerEpoch: 0 });
    expect(encodeImageSnapshot(image)).toEqual(snapshot);
    expect(image.broker(1)!.fenced).toBe(false);
    expect(next.broker(1)!.fenced).toBe(true);
    expect(next.topics).toBe(image.topics);
    expect(Object.isFrozen(next.broker(1))).toBe(true);
    expect(Object.isFrozen(image.topic('orders')!.partitions)).toBe(true);
  });

  it('removes an unregistered broker; its replicas stay in their partitions', () => {
    expectInvariantError(image, { type: 'unregisterBroker', brokerId: 3, brokerEpoch: 7 }, /epoch 7/);
    const next = applyRecord(image, { type: 'unregisterBroker', brokerId: 3, brokerEpoch: 2 });
    expect(next.broker(3)).toBeUndefined();
    expect(next.brokers.size).toBe(image.brokers.size - 1);
    expect(next.topic('orders')).toBe(image.topic('orders'));
    expectInvariantError(next, { type: 'fenceBroker', brokerId: 3, brokerEpoch: 2 }, /unregistered/);
  });

  it('reports what a delta changed', () => {
    const delta = new MetadataDelta(image);
    delta.replay({ type: 'unfenceBroker', brokerId: 3, brokerEpoch: 2 });
    delta.replay({ type: 'partitionChange', topicId, partitionIndex: 0, leader: null, isr: [1, 2, 3] });
    expect([...delta.changedBrokerIds]).toEqual([3]);
    expect([...delta.changedTopicIds]).toEqual([topicId]);
    delta.replay({ type: 'removeTopic', topicId });
    expect([...delta.removedTopics]).toEqual([[topicId, 'orders']]);
    const next = delta.apply();
    expect(next.topics.size).toBe(0);
    expect(next.configsByTopic.size).toBe(0);
    expect(() => delta.replay({ type: 'fenceBroker', brokerId: 3, brokerEpoch: 2 })).toThrow(
      InvariantViolation,
    );
  });

  it('throws on records that break an invariant', () => {
    const change = (
      fields: Partial<Extract<MetadataRecord, { type: 'partitionChange' }>>,
    ): MetadataRecord => ({
      type: 'partitionChange',
      topicId,
      partitionIndex: 0,
      leader: null,
      isr: null,
      ...fields,
    });
    expectInvariantError(image, change({ topicId: otherTopicId, leader: 2 }), /unknown topic/);
    expectInvariantError(image, change({ partitionIndex: 5, leader: 2 }), /unknown partition/);
    expectInvariantError(image, change({ leader: 3 }), /not in ISR/);
    expectInvariantError(image, change({ leader: 7 }), /not in ISR/);
    expectInvariantError(image, change({ isr: [1, 4] }), /not a subset of replicas/);
    expectInvariantError(image, change({ isr: [] }), /empty ISR/);
    expectInvariantError(image, change({ isr: [1, 1] }), /repeats/);
    expectInvariantError(image, change({}), /empty partition change/);
    expectInvariantError(image, register(4, 2), /not above 2/);
    expectInvariantError(
      image,
      { type: 'fenceBroker', brokerId: 1, brokerEpoch: 5 },
      /registered epoch is 0/,
    );
    expectInvariantError(image, { type: 'fenceBroker', brokerId: 9, brokerEpoch: 0 }, /unregistered/);
    expectInvariantError(image, { type: 'unfenceBroker', brokerId: 1, brokerEpoch: 0 }, /already/);
    expectInvariantError(image, { type: 'topic', name: 'orders', topicId: otherTopicId }, /already exists/);
    expectInvariantError(image, { type: 'topic', name: 'other', topicId }, /in use/);
    expectInvariantError(image, { type: 'topic', name: 'bad name', topicId: otherTopicId }, /characters/);
    expectInvariantError(
      image,
      {
        type: 'partition',
        topicId,
        partitionIndex: 3,
        replicas: [1],
        isr: [1],
        leader: 1,
        leaderEpoch: 0,
        partitionEpoch: 0,
      },
      /out of order/,
    );
    expectInvariantError(
      image,
      {
        type: 'partition',
        topicId,
        partitionIndex: 2,
        replicas: [1, -8],
        isr: [1],
        leader: 1,
        leaderEpoch: 0,
        partitionEpoch: 0,
      },
      /not a broker id/,
    );
    expectInvariantError(
      image,
      { type: 'config', resourceType: 2, resourceName: 'nope', name: 'retention.ms', value: '1' },
      /unknown topic/,
    );
    expectInvariantError(image, { type: 'removeTopic', topicId: otherTopicId }, /unknown topic/);
    expectInvariantError(
      image,
      { type: 'producerIds', brokerId: 1, brokerEpoch: 0, nextProducerId: 1000 },
      /not after/,
    );
    expectInvariantError(
      image,
      { type: 'controllerActivation', controllerId: 1, controllerEpoch: 1 },
      /after epoch 1/,
    );
    const shuttingDown = applyRecord(image, {
      type: 'brokerRegistrationChange',
      brokerId: 3,
      brokerEpoch: 2,
      inControlledShutdown: true,
    });
    expectInvariantError(
      shuttingDown,
      { type: 'unfenceBroker', brokerId: 3, brokerEpoch: 2 },
      /controlled shutdown/,
    );
  });

  it('round-trips through a snapshot', () => {
    const decoded = decodeImageSnapshot(encodeImageSnapshot(image));
    expect(decoded).toEqual(image);
    expect(imageToRecords(decoded)).toEqual(imageToRecords(image));
    expect(decodeImageSnapshot(encodeImageSnapshot(MetadataImage.empty))).toEqual(MetadataImage.empty);
  });
});

describe('offline replicas (a failed log dir)', () => {
  const offline = (brokerId: number, brokerEpoch: number, partitionIndexes: number[]): MetadataRecord => ({
    type: 'brokerReplicasOffline',
    brokerId,
    brokerEpoch,
    logDirs: ['/data/b'],
    replicas: partitionIndexes.map((partitionIndex) => ({ topicId, partitionIndex })),
  });

  it('marks the replicas offline on that broker only, and says which topics and brokers changed', () => {
    const image = applyRecords(MetadataImage.empty, cluster);
    const delta = new MetadataDelta(image).replay(offline(2, 1, [1]));
    expect([...delta.changedBrokerIds]).toEqual([2]);
    expect([...delta.changedTopicIds]).toEqual([topicId]);
    const next = delta.apply();
    expect(isReplicaOffline(next.broker(2), topicId, 1)).toBe(true);
    expect(isReplicaOffline(next.broker(2), topicId, 0)).toBe(false);
    expect(isReplicaOffline(next.broker(1), topicId, 1)).toBe(false);
    expect(next.broker(2)!.offlineLogDirs).toEqual(['/data/b']);
    // The base image is untouched.
    expect(isReplicaOffline(image.broker(2), topicId, 1)).toBe(false);
  });

  it('refuses replicas the broker does not hold, ones already offline, stale epochs and empty records', () => {
    const image = applyRecords(MetadataImage.empty, cluster);
    expectInvariantError(image, offline(2, 1, [5]), /holds no replica/);
    expectInvariantError(image, offline(2, 0, [0]), /epoch/);
    const once = applyRecord(image, offline(2, 1, [0]));
    expectInvariantError(once, offline(2, 1, [0]), /already offline/);
    expectInvariantError(once, offline(2, 1, []), /nothing new/);
  });

  it('is cleared by a new registration and by the topic’s removal, and survives a snapshot', () => {
    const image = applyRecords(MetadataImage.empty, [...cluster, offline(2, 1, [0, 1])]);
    expect(decodeImageSnapshot(encodeImageSnapshot(image))).toEqual(image);
    const reRegistered = applyRecord(image, register(2, 7));
    expect(reRegistered.broker(2)).toMatchObject({ offlineLogDirs: [], offlineReplicas: new Map() });
    const removed = applyRecord(image, { type: 'removeTopic', topicId });
    expect(removed.broker(2)!.offlineReplicas.size).toBe(0);
    expect(removed.broker(2)!.offlineLogDirs).toEqual(['/data/b']);
  });
});
