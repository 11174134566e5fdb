// The `__consumer_offsets` records of KIP-848 consumer groups, as Kafka 4 writes them, so a
// coordinator that takes over the partition rebuilds the group (Kafka's GroupCoordinatorRecordHelpers).
// Keys are not flexible (int16 version, then int16-prefixed strings); values are flexible version 0
// (compact strings and arrays, a tagged-field section, none written).
//   ConsumerGroupMetadataKey (3)               => group_id
//   ConsumerGroupMetadataValue v0              => epoch int32
//   ConsumerGroupMemberMetadataKey (5)         => group_id member_id
//   ConsumerGroupMemberMetadataValue v0        => instance_id(nullable) rack_id(nullable) client_id
//                                                 client_host [subscribed_topic_names]
//                                                 subscribed_topic_regex(nullable) rebalance_timeout_ms int32
//                                                 server_assignor(nullable)
//   ConsumerGroupCurrentMemberAssignmentKey (8) => group_id member_id
//   ConsumerGroupCurrentMemberAssignmentValue v0 => member_epoch int32 previous_member_epoch int32
//                                                 state int8 [assigned_partitions => topic_id uuid
//                                                 [partitions int32]] [partitions_pending_revocation => ...]
// What Gregor writes and why: the group epoch (so epochs stay monotonic across a failover), each
// member's subscription (so the group needs no rejoin), and each member's current assignment and
// epochs (so a member's next heartbeat and offset commits are accepted, and no partition is handed
// to a second member while its owner still holds it). The target assignment (Kafka's keys 6 and 7)
// is not written: a new coordinator recomputes it from the members' subscriptions, with the members'
// current assignments as the sticky input, and bumps the group epoch so every member reconciles.
// Specs: apache/kafka group-coordinator/src/main/resources/common/message/ConsumerGroup*.json.

import { DecodeError, Reader, Writer } from '@gregor/protocol';
import type { TopicAssignment } from './consumer-assignors.js';
import type { ConsumerMemberState } from './consumer-group.js';
import type { OffsetsRecord } from './offsets-records.js';

export const consumerGroupMetadataKeyVersion = 3;
export const consumerGroupMemberMetadataKeyVersion = 5;
export const consumerGroupCurrentMemberAssignmentKeyVersion = 8;
/** Keys Gregor never writes but tombstones when it deletes a group, as Kafka does. */
export const consumerGroupPartitionMetadataKeyVersion = 4;
export const consumerGroupTargetAssignmentMetadataKeyVersion = 7;

/** Kafka's MemberState byte values. */
const memberStateValues: Record<ConsumerMemberState, number> = {
  stable: 0,
  unrevoked_partitions: 1,
  unreleased_partitions: 2,
};

export interface ConsumerMemberMetadataValue {
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly subscribedTopicNames: readonly string[];
  readonly subscribedTopicRegex: string | null;
  readonly rebalanceTimeoutMs: number;
  readonly serverAssignor: string | null;
}

export interface ConsumerMemberAssignmentValue {
  readonly memberEpoch: number;
  readonly previousMemberEpoch: number;
  readonly state: ConsumerMemberState;
  readonly assigned: TopicAssignment;
  readonly pendingRevocation: TopicAssignment;
}

export type DecodedConsumerGroupRecord =
  | { readonly kind: 'consumerGroupMetadata'; readonly group: string; readonly epoch: number | null }
  | {
      readonly kind: 'consumerMemberMetadata';
      readonly group: string;
      readonly memberId: string;
      readonly value: ConsumerMemberMetadataValue | null;
    }
  | {
      readonly kind: 'consumerMemberAssignment';
      readonly group: string;
      readonly memberId: string;
      readonly value: ConsumerMemberAssignmentValue | null;
    };

function key(version: number, group: string, memberId?: string): Buffer {
  const writer = new Writer(64).int16(version).string(group);
  if (memberId !== undefined) writer.string(memberId);
  return writer.toBuffer();
}

export function consumerGroupMetadataRecord(group: string, epoch: number | null): OffsetsRecord {
  return [
    key(consumerGroupMetadataKeyVersion, group),
    epoch === null ? null : new Writer(16).int16(0).int32(epoch).taggedFields().toBuffer(),
  ];
}

/**
 * The tombstones that delete a consumer group without members, in Kafka's order
 * (ConsumerGroup.createGroupTombstoneRecords): its target assignment metadata (7), its subscription
 * metadata (4) and its epoch (3). Gregor writes only the last; the others delete what a log that
 * Kafka wrote may hold, and Gregor's loader skips them.
 */
export function emptyConsumerGroupTombstones(group: string): OffsetsRecord[] {
  return [
    [key(consumerGroupTargetAssignmentMetadataKeyVersion, group), null],
    [key(consumerGroupPartitionMetadataKeyVersion, group), null],
    consumerGroupMetadataRecord(group, null),
  ];
}

export function consumerMemberMetadataRecord(
  group: string,
  memberId: string,
  value: ConsumerMemberMetadataValue | null,
): OffsetsRecord {
  if (value === null) return [key(consumerGroupMemberMetadataKeyVersion, group, memberId), null];
  const writer = new Writer(128)
    .int16(0)
    .compactString(value.instanceId)
    .compactString(value.rackId)
    .compactString(value.clientId)
    .compactString(value.clientHost)
    .uvarint(value.subscribedTopicNames.length + 1);
  for (const name of value.subscribedTopicNames) writer.compactString(name);
  writer
    .compactString(value.subscribedTopicRegex)
    .int32(value.rebalanceTimeoutMs)
    .compactString(value.serverAssignor)
    .taggedFields();
  return [key(consumerGroupMemberMetadataKeyVersion, group, memberId), writer.toBuffer()];
}

function writeTopicPartitions(writer: Writer, assignment: TopicAssignment): void {
  writer.uvarint(assignment.size + 1);
  for (const [topicId, partitions] of assignment) {
    writer.raw(Buffer.from(topicId, 'hex')).uvarint(partitions.length + 1);
    for (const p of partitions) writer.int32(p);
    writer.taggedFields();
  }
}

export function consumerMemberAssignmentRecord(
  group: string,
  memberId: string,
  value: ConsumerMemberAssignmentValue | null,
): OffsetsRecord {
  if (value === null) return [key(consumerGroupCurrentMemberAssignmentKeyVersion, group, memberId), null];
  const writer = new Writer(128)
    .int16(0)
    .int32(value.memberEpoch)
    .int32(value.previousMemberEpoch)
    .int8(memberStateValues[value.state]);
  writeTopicPartitions(writer, value.assigned);
  writeTopicPartitions(writer, value.pendingRevocation);
  writer.taggedFields();
  return [key(consumerGroupCurrentMemberAssignmentKeyVersion, group, memberId), writer.toBuffer()];
}

function compactCount(reader: Reader): number {
  const count = reader.uvarint() - 1;
  if (count < 0) throw new DecodeError('a null array in a consumer group record');
  return count;
}

function readTopicPartitions(reader: Reader): TopicAssignment {
  const result = new Map<string, readonly number[]>();
  const topicCount = compactCount(reader);
  for (let i = 0; i < topicCount; i++) {
    const topicId = reader.raw(16).toString('hex');
    const partitions: number[] = [];
    const partitionCount = compactCount(reader);
    for (let j = 0; j < partitionCount; j++) partitions.push(reader.int32());
    reader.taggedFields();
    if (partitions.length > 0)
      result.set(
        topicId,
        partitions.sort((a, b) => a - b),
      );
  }
  return result;
}

function expectValueVersion0(reader: Reader, what: string): void {
  const version = reader.int16();
  if (version !== 0) throw new DecodeError(`${what} value version ${version}, only 0 is known`);
}

/** A consumer group record, or null when the key is not one of the three Gregor handles. */
export function decodeConsumerGroupRecord(record: OffsetsRecord): DecodedConsumerGroupRecord | null {
  const [keyBytes, valueBytes] = record;
  const keyReader = new Reader(keyBytes);
  const version = keyReader.int16();
  if (
    version !== consumerGroupMetadataKeyVersion &&
    version !== consumerGroupMemberMetadataKeyVersion &&
    version !== consumerGroupCurrentMemberAssignmentKeyVersion
  ) {
    return null;
  }
  const group = keyReader.string();
  if (version === consumerGroupMetadataKeyVersion) {
    if (valueBytes === null) return { kind: 'consumerGroupMetadata', group, epoch: null };
    const reader = new Reader(valueBytes);
    expectValueVersion0(reader, 'ConsumerGroupMetadata');
    return { kind: 'consumerGroupMetadata', group, epoch: reader.int32() };
  }
  const memberId = keyReader.string();
  if (version === consumerGroupMemberMetadataKeyVersion) {
    if (valueBytes === null) return { kind: 'consumerMemberMetadata', group, memberId, value: null };
    const reader = new Reader(valueBytes);
    expectValueVersion0(reader, 'ConsumerGroupMemberMetadata');
    const instanceId = reader.compactNullableString();
    const rackId = reader.compactNullableString();
    const clientId = reader.compactString();
    const clientHost = reader.compactString();
    const names: string[] = [];
    const nameCount = compactCount(reader);
    for (let i = 0; i < nameCount; i++) names.push(reader.compactString());
    const subscribedTopicRegex = reader.compactNullableString();
    const rebalanceTimeoutMs = reader.int32();
    const serverAssignor = reader.compactNullableString();
    return {
      kind: 'consumerMemberMetadata',
      group,
      memberId,
      value: {
        instanceId,
        rackId,
        clientId,
        clientHost,
        subscribedTopicNames: names,
        subscribedTopicRegex,
        rebalanceTimeoutMs,
        serverAssignor,
      },
    };
  }
  if (valueBytes === null) return { kind: 'consumerMemberAssignment', group, memberId, value: null };
  const reader = new Reader(valueBytes);
  expectValueVersion0(reader, 'ConsumerGroupCurrentMemberAssignment');
  const memberEpoch = reader.int32();
  const previousMemberEpoch = reader.int32();
  const stateValue = reader.int8();
  const state = (Object.keys(memberStateValues) as ConsumerMemberState[]).find(
    (name) => memberStateValues[name] === stateValue,
  );
  const assigned = readTopicPartitions(reader);
  const pendingRevocation = readTopicPartitions(reader);
  return {
    kind: 'consumerMemberAssignment',
    group,
    memberId,
    value: {
      memberEpoch,
      previousMemberEpoch,
      // An unknown state (a newer Kafka's) reconciles again from "unreleased", which only ever
      // grants free partitions.
      state: state ?? 'unreleased_partitions',
      assigned,
      pendingRevocation,
    },
  };
}
