// Custom partition assigners in kafkajs's shape: `consumer({ partitionAssigners: [MyAssigner] })`
// where MyAssigner is a function `({ cluster, groupId, logger }) => assigner` and the assigner has
// kafkajs's `name`, `version`, `protocol({ topics })` (its JoinGroup metadata) and
// `assign({ members, topics })` (each member's assignment, as bytes). AssignerProtocol encodes and
// decodes those bytes (Kafka's ConsumerProtocolSubscription and ConsumerProtocolAssignment, as
// consumer-protocol.ts), so code written against kafkajs's AssignerProtocol runs unchanged.

import { Reader, Writer } from '@gregor/protocol';
import type { PartitionMetadata } from '../cluster.js';
import type { Logger } from '../logger.js';

/** What kafkajs gives an assigner of the cluster: the partitions of a topic. */
export interface AssignerCluster {
  findTopicPartitionMetadata(topic: string): PartitionMetadata[];
}

export interface KafkaJSAssignerContext {
  readonly cluster: AssignerCluster;
  readonly groupId: string;
  readonly logger: Logger;
}

export interface GroupMember {
  readonly memberId: string;
  /** The member's JoinGroup metadata (AssignerProtocol.MemberMetadata bytes). */
  readonly memberMetadata: Buffer;
}

export interface GroupMemberAssignment {
  readonly memberId: string;
  /** AssignerProtocol.MemberAssignment bytes. */
  readonly memberAssignment: Buffer;
}

/** kafkajs's Assigner. */
export interface KafkaJSAssigner {
  readonly name: string;
  readonly version: number;
  protocol(subscription: { topics: string[] }): { name: string; metadata: Buffer };
  assign(group: { members: GroupMember[]; topics: string[] }): Promise<GroupMemberAssignment[]>;
}

/** kafkajs's PartitionAssigner: what `partitionAssigners` takes. */
export type KafkaJSAssignerCreator = (context: KafkaJSAssignerContext) => KafkaJSAssigner;

export function isKafkaJSAssigner(assigner: object): assigner is KafkaJSAssigner {
  return typeof (assigner as Partial<KafkaJSAssigner>).protocol === 'function';
}

export interface MemberMetadata {
  readonly version: number;
  readonly topics: string[];
  readonly userData?: Buffer | null;
}

export interface MemberAssignmentBytes {
  readonly version: number;
  /** Topic -> partitions. */
  readonly assignment: Record<string, number[]>;
  readonly userData?: Buffer | null;
}

/** kafkajs's AssignerProtocol. */
export const AssignerProtocol = {
  MemberMetadata: {
    encode({ version, topics, userData = Buffer.alloc(0) }: MemberMetadata): Buffer {
      const writer = new Writer().int16(version).int32(topics.length);
      for (const topic of topics) writer.string(topic);
      return writer.bytes(userData ?? Buffer.alloc(0)).toBuffer();
    },
    decode(bytes: Buffer): MemberMetadata {
      const reader = new Reader(bytes);
      const version = reader.int16();
      const topics = Array.from({ length: reader.int32() }, () => reader.string());
      const userData = reader.remaining >= 4 ? reader.nullableBytes() : null;
      return { version, topics, userData };
    },
  },
  MemberAssignment: {
    encode({ version, assignment, userData = Buffer.alloc(0) }: MemberAssignmentBytes): Buffer {
      const topics = Object.entries(assignment);
      const writer = new Writer().int16(version).int32(topics.length);
      for (const [topic, partitions] of topics) {
        writer.string(topic).int32(partitions.length);
        for (const partition of partitions) writer.int32(partition);
      }
      return writer.bytes(userData ?? Buffer.alloc(0)).toBuffer();
    },
    /** null for the empty bytes a member without partitions may get (as kafkajs). */
    decode(bytes: Buffer): MemberAssignmentBytes | null {
      if (bytes.length === 0) return null;
      const reader = new Reader(bytes);
      const version = reader.int16();
      const assignment: Record<string, number[]> = {};
      const topicCount = reader.int32();
      for (let index = 0; index < topicCount; index++) {
        const topic = reader.string();
        assignment[topic] = Array.from({ length: reader.int32() }, () => reader.int32());
      }
      const userData = reader.remaining >= 4 ? reader.nullableBytes() : null;
      return { version, assignment, userData };
    },
  },
};
