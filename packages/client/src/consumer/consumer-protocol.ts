// The "consumer" protocol type's bytes inside JoinGroup and SyncGroup (Kafka's
// ConsumerProtocolSubscription and ConsumerProtocolAssignment, version 0), which Java, librdkafka
// and kafkajs members all write, so they can share a group.
//   Subscription => version:int16 [topics:string] user_data:nullable bytes
//   Assignment   => version:int16 [topic:string [partitions:int32]] user_data:nullable bytes

import { Reader, Writer } from '@gregor/protocol';

export interface MemberSubscription {
  readonly topics: readonly string[];
  readonly userData: Buffer | null;
}

export type MemberAssignment = ReadonlyMap<string, readonly number[]>;

export function encodeSubscription(subscription: MemberSubscription): Buffer {
  const writer = new Writer().int16(0).int32(subscription.topics.length);
  for (const topic of subscription.topics) writer.string(topic);
  return writer.bytes(subscription.userData).toBuffer();
}

export function decodeSubscription(bytes: Buffer): MemberSubscription {
  const reader = new Reader(bytes);
  reader.int16();
  const topics = Array.from({ length: reader.int32() }, () => reader.string());
  // Version 0 ends after the topics for some clients; user data is optional then.
  const userData = reader.remaining >= 4 ? reader.nullableBytes() : null;
  return { topics, userData };
}

export function encodeAssignment(assignment: MemberAssignment): Buffer {
  const writer = new Writer().int16(0).int32(assignment.size);
  for (const [topic, partitions] of assignment) {
    writer.string(topic).int32(partitions.length);
    for (const partition of partitions) writer.int32(partition);
  }
  return writer.bytes(null).toBuffer();
}

export function decodeAssignment(bytes: Buffer): MemberAssignment {
  const assignment = new Map<string, number[]>();
  // An empty assignment (no partitions for this member) may come as zero bytes.
  if (bytes.length === 0) return assignment;
  const reader = new Reader(bytes);
  reader.int16();
  const topicCount = reader.int32();
  for (let index = 0; index < topicCount; index++) {
    const topic = reader.string();
    const partitions = Array.from({ length: reader.int32() }, () => reader.int32());
    assignment.set(topic, partitions);
  }
  return assignment;
}
