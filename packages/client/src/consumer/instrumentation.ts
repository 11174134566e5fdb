// kafkajs's consumer events (`consumer.on(consumer.events.GROUP_JOIN, ...)`): its full table and
// payload shapes, emitted through the emitter the producer and admin share (../instrumentation.ts).

import {
  networkEventNames,
  type RequestPayload,
  type RequestQueueSizePayload,
  type RequestTimeoutPayload,
} from '../instrumentation.js';

export type { InstrumentationEvent } from '../instrumentation.js';

export const consumerEvents = {
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH: 'consumer.fetch',
  FETCH_START: 'consumer.fetch_start',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics',
  ...networkEventNames('consumer'),
} as const;

export type ConsumerEventName = (typeof consumerEvents)[keyof typeof consumerEvents];

export interface HeartbeatPayload {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupGenerationId: number;
}

export interface CommitOffsetsPayload {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupGenerationId: number;
  readonly topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
}

export interface GroupJoinPayload {
  readonly duration: number;
  readonly groupId: string;
  readonly isLeader: boolean;
  readonly leaderId: string;
  readonly groupProtocol: string;
  readonly memberId: string;
  readonly memberAssignment: Record<string, number[]>;
  /** Not in kafkajs: the generation joined (unchanged when a static member takes its place back). */
  readonly generationId: number;
  /** Not in kafkajs: this member's `groupInstanceId`, null for a dynamic member. */
  readonly groupInstanceId: string | null;
}

export interface FetchStartPayload {
  readonly nodeId: number;
}

export interface FetchPayload {
  /** Partitions the answer brought records for (kafkajs 2 always says 0 here). */
  readonly numberOfBatches: number;
  readonly duration: number;
  readonly nodeId: number;
}

export interface BatchProcessPayload {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly offsetLag: string;
  readonly offsetLagLow: string;
  readonly batchSize: number;
  readonly firstOffset: string | null;
  readonly lastOffset: string;
}

export interface EndBatchProcessPayload extends BatchProcessPayload {
  readonly duration: number;
}

export interface CrashPayload {
  readonly error: Error;
  readonly groupId: string;
  /** Whether the consumer starts again (kafkajs's rule: a retriable error, and `retry.restartOnFailure` agrees). */
  readonly restart: boolean;
}

export interface RebalancingPayload {
  readonly groupId: string;
  readonly memberId: string;
}

export interface ReceivedUnsubscribedTopicsPayload {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly assignedTopics: string[];
  readonly topicsSubscribed: string[];
  readonly topicsNotSubscribed: string[];
}

export interface ConsumerEventPayloads {
  [consumerEvents.HEARTBEAT]: HeartbeatPayload;
  [consumerEvents.COMMIT_OFFSETS]: CommitOffsetsPayload;
  [consumerEvents.GROUP_JOIN]: GroupJoinPayload;
  [consumerEvents.FETCH]: FetchPayload;
  [consumerEvents.FETCH_START]: FetchStartPayload;
  [consumerEvents.START_BATCH_PROCESS]: BatchProcessPayload;
  [consumerEvents.END_BATCH_PROCESS]: EndBatchProcessPayload;
  [consumerEvents.CONNECT]: undefined;
  [consumerEvents.DISCONNECT]: undefined;
  [consumerEvents.STOP]: undefined;
  [consumerEvents.CRASH]: CrashPayload;
  [consumerEvents.REBALANCING]: RebalancingPayload;
  [consumerEvents.RECEIVED_UNSUBSCRIBED_TOPICS]: ReceivedUnsubscribedTopicsPayload;
  [consumerEvents.REQUEST]: RequestPayload;
  [consumerEvents.REQUEST_TIMEOUT]: RequestTimeoutPayload;
  [consumerEvents.REQUEST_QUEUE_SIZE]: RequestQueueSizePayload;
}
