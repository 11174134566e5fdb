// The "consumer" protocol type's bytes inside JoinGroup and SyncGroup (Kafka's
// ConsumerProtocolSubscription and ConsumerProtocolAssignment, version 0), which Java, librdkafka
// and kafkajs members all write, so they can share a group.
//   Subscription => version:int16 [topics:string] user_data:nullable bytes
//                   [owned_partitions => topic:string [partitions:int32]](v1+)
//   Assignment   => version:int16 [topic:string [partitions:int32]] user_data:nullable bytes

import { Reader, Writer } from '@gregor/protocol';

export interface MemberSubscription {
  readonly topics: readonly string[];
  readonly userData: Buffer | null;
  /** What the member holds now (version 1, KIP-429): cooperative assignors keep it where they can. */
  readonly ownedPartitions?: MemberAssignment;
}

export type MemberAssignment = ReadonlyMap<string, readonly number[]>;

export function encodeSubscription(subscription: MemberSubscription): Buffer {
  const owned = subscription.ownedPartitions;
  const writer = new Writer().int16(owned === undefined ? 0 : 1).int32(subscription.topics.length);
  for (const topic of subscription.topics) writer.string(topic);
  writer.bytes(subscription.userData);
  if (owned !== undefined) writeTopicPartitions(writer, owned);
  return writer.toBuffer();
}

function writeTopicPartitions(writer: Writer, assignment: MemberAssignment): void {
  writer.int32(assignment.size);
  for (const [topic, partitions] of assignment) {
    writer.string(topic).int32(partitions.length);
    for (const partition of partitions) writer.int32(partition);
  }
}

function readTopicPartitions(reader: Reader): Map<string, number[]> {
  const assignment = new Map<string, number[]>();
  const topicCount = reader.int32();
  for (let index = 0; index < topicCount; index++) {
    const topic = reader.string();
    assignment.set(
      topic,
      Array.from({ length: reader.int32() }, () => reader.int32()),
    );
  }
  return assignment;
}

export function decodeSubscription(bytes: Buffer): MemberSubscription {
  const reader = new Reader(bytes);
  const version = reader.int16();
  const topics = Array.from({ length: reader.int32() }, () => reader.string());
  // Version 0 ends after the topics for some clients; user data is optional then.
  const userData = reader.remaining >= 4 ? reader.nullableBytes() : null;
  if (version >= 1 && reader.remaining >= 4)
    return { topics, userData, ownedPartitions: readTopicPartitions(reader) };
  return { topics, userData };
}

export function encodeAssignment(assignment: MemberAssignment): Buffer {
  const writer = new Writer().int16(0);
  writeTopicPartitions(writer, assignment);
  return writer.bytes(null).toBuffer();
}

export function decodeAssignment(bytes: Buffer): MemberAssignment {
  // An empty assignment (no partitions for this member) may come as zero bytes.
  if (bytes.length === 0) return new Map();
  const reader = new Reader(bytes);
  reader.int16();
  return readTopicPartitions(reader);
}
