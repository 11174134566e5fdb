// ConsumerGroupHeartbeat against bytes assembled by hand from Kafka's
// ConsumerGroupHeartbeatRequest.json / ConsumerGroupHeartbeatResponse.json (flexible from v0): the
// v1-only regex, nullable arrays for "unchanged", and the nullable assignment struct, which Kafka's
// generated code writes with an int8 marker (-1 null, 1 present).

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Reader } from '../../reader.js';
import { decodeMessage, encodeMessage } from '../codec.js';
import { consumerGroupHeartbeatApi } from './consumer-group-heartbeat.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const topicId = '0102030405060708090a0b0c0d0e0f10';

describe('ConsumerGroupHeartbeat request', () => {
  const join = {
    groupId: 'g',
    memberId: 'm',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 300_000,
    subscribedTopicNames: ['t'],
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: [],
  };

  it('v1: a join with topic names, no regex, an empty owned list', () => {
    // group "g", member "m", epoch 0, instance null, rack null, rebalance 300000,
    // [names: "t"], regex null, assignor null, [topic partitions: empty], tags
    const bytes = hex('02 67  02 6d  00000000  00  00  000493e0  02 02 74  00  00  01  00');
    expect(encodeMessage(consumerGroupHeartbeatApi.request, 1, join).toBuffer()).toEqual(bytes);
    expect(decodeMessage(consumerGroupHeartbeatApi.request, 1, new Reader(bytes))).toEqual(join);
  });

  it('v0 has no regex field; a heartbeat leaves unchanged fields null', () => {
    const { subscribedTopicRegex: _, ...v0Join } = join;
    expect(encodeMessage(consumerGroupHeartbeatApi.request, 0, v0Join).toBuffer()).toEqual(
      hex('02 67  02 6d  00000000  00  00  000493e0  02 02 74  00  01  00'),
    );
    const beat = hex(
      `02 67  02 6d  00000003  00  00  ffffffff  00  00  00  02 ${topicId} 02 00000001 00  00`,
    );
    expect(decodeMessage(consumerGroupHeartbeatApi.request, 1, new Reader(beat))).toMatchObject({
      memberEpoch: 3,
      rebalanceTimeoutMs: -1,
      subscribedTopicNames: null,
      subscribedTopicRegex: null,
      topicPartitions: [{ topicId, partitions: [1] }],
    });
  });
});

describe('ConsumerGroupHeartbeat response', () => {
  it('carries the assignment as a nullable struct: marker 1 then the struct, -1 for null', () => {
    const withAssignment = {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      memberId: 'm',
      memberEpoch: 2,
      heartbeatIntervalMs: 5000,
      assignment: { topicPartitions: [{ topicId, partitions: [0, 2] }] },
    };
    // throttle, error, message null, member "m", epoch 2, interval 5000,
    // assignment: marker 01, [topic partitions: 1 => id, [0, 2], tags], tags; tags
    const bytes = hex(
      `00000000 0000 00 02 6d 00000002 00001388  01 02 ${topicId} 03 00000000 00000002 00 00  00`,
    );
    expect(encodeMessage(consumerGroupHeartbeatApi.response, 0, withAssignment).toBuffer()).toEqual(bytes);
    expect(decodeMessage(consumerGroupHeartbeatApi.response, 1, new Reader(bytes))).toEqual(withAssignment);
    const unchanged = { ...withAssignment, assignment: null };
    expect(encodeMessage(consumerGroupHeartbeatApi.response, 0, unchanged).toBuffer()).toEqual(
      hex('00000000 0000 00 02 6d 00000002 00001388  ff  00'),
    );
  });
});
