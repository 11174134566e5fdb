// Test support for KIP-848 consumer groups: heartbeats through a Harness's coordinator, a topics image,
// and a simulated consumer that behaves as librdkafka does (it owns what the last assignment gave it,
// drops revoked partitions at once and reports what it owns in its next heartbeat).

import { ErrorCode } from '@gregor/protocol';
import type { AssignableTopic } from '../consumer-assignors.js';
import {
  type ConsumerGroupHeartbeatRequest,
  type ConsumerGroupHeartbeatResponse,
  type ConsumerTopicsImage,
  consumerTopicsImage,
  type TopicPartitions,
} from '../consumer-group-messages.js';
import type { RequestId } from '../messages.js';
import type { Harness } from './coordinator-harness.js';

export const rebalanceTimeoutMs = 30_000;

/** A topic whose id is its name padded to 32 hex digits (readable in failures). */
export function topic(name: string, partitionCount: number): AssignableTopic {
  const hex = Buffer.from(name).toString('hex').slice(0, 32).padEnd(32, '0');
  return { topicId: hex, name, partitionCount };
}

export function topicsOf(...topics: AssignableTopic[]): ConsumerTopicsImage {
  return consumerTopicsImage(topics);
}

let nextRequestId: RequestId = 1_000_000;

/** Sends one heartbeat; returns its response once answered (appends complete at once by default). */
export function heartbeat(
  harness: Harness,
  topics: ConsumerTopicsImage,
  request: Partial<ConsumerGroupHeartbeatRequest> & { groupId: string; memberEpoch: number },
): ConsumerGroupHeartbeatResponse | undefined {
  const requestId = nextRequestId++;
  harness.apply(
    harness.coordinator.consumerGroupHeartbeat(
      requestId,
      {
        apiVersion: 1,
        memberId: '',
        instanceId: null,
        rackId: null,
        rebalanceTimeoutMs: -1,
        subscribedTopicNames: null,
        subscribedTopicRegex: null,
        serverAssignor: null,
        topicPartitions: null,
        clientId: 'client',
        clientHost: '/127.0.0.1',
        ...request,
      },
      topics,
      harness.nowMs,
    ),
  );
  const response = harness.responses.get(requestId);
  if (response === undefined) return undefined;
  if (response.api !== 'ConsumerGroupHeartbeat') throw new Error(`unexpected ${response.api} response`);
  return response;
}

export function partitionsOf(assignment: readonly TopicPartitions[] | undefined, topicId: string): number[] {
  return [...(assignment?.find((t) => t.topicId === topicId)?.partitions ?? [])].sort((a, b) => a - b);
}

/**
 * A consumer as librdkafka runs one. It starts consuming newly assigned partitions when the answer
 * arrives, but keeps consuming a revoked partition until it has revoked it, which it reports in its
 * next heartbeat with the owned partitions (`full`); a heartbeat without them (`full` false) is one
 * sent while its revocation callback still runs. A fenced or unknown member loses everything and
 * joins again.
 */
export class SimulatedConsumer {
  epoch = 0;
  /** topic id → partitions it consumes now (the last assignment, plus revoked ones not yet given up). */
  owned = new Map<string, number[]>();
  /** The last assignment the coordinator sent. */
  target = new Map<string, number[]>();
  joined = false;
  readonly epochsSeen: number[] = [];

  constructor(
    readonly memberId: string,
    readonly groupId: string,
    public subscription: string[],
    readonly instanceId: string | null = null,
  ) {}

  /** One heartbeat (a join while not a member); returns the error code, -1 while it is unanswered. */
  beat(harness: Harness, topics: ConsumerTopicsImage, full = true): number {
    const joining = !this.joined;
    if (joining) {
      this.owned.clear();
      this.target.clear();
    }
    if (full) this.owned = new Map([...this.target].map(([t, p]) => [t, [...p]]));
    const response = heartbeat(harness, topics, {
      groupId: this.groupId,
      memberId: this.memberId,
      memberEpoch: joining ? 0 : this.epoch,
      instanceId: this.instanceId,
      rebalanceTimeoutMs: joining ? rebalanceTimeoutMs : -1,
      subscribedTopicNames: joining || full ? this.subscription : null,
      topicPartitions: joining
        ? []
        : full
          ? [...this.owned].map(([topicId, partitions]) => ({ topicId, partitions }))
          : null,
    });
    if (response === undefined) return -1;
    if (response.errorCode !== ErrorCode.NONE) {
      if (
        response.errorCode === ErrorCode.FENCED_MEMBER_EPOCH ||
        response.errorCode === ErrorCode.UNKNOWN_MEMBER_ID
      ) {
        this.owned.clear();
        this.target.clear();
        this.joined = false;
        this.epoch = 0;
      }
      return response.errorCode;
    }
    this.joined = true;
    this.epoch = response.memberEpoch;
    this.epochsSeen.push(response.memberEpoch);
    if (response.assignment !== null) {
      this.target = new Map(response.assignment.topicPartitions.map((t) => [t.topicId, [...t.partitions]]));
      for (const [topicId, partitions] of this.target) {
        const mine = this.owned.get(topicId) ?? [];
        this.owned.set(
          topicId,
          [...new Set([...mine, ...partitions])].sort((a, b) => a - b),
        );
      }
    }
    return ErrorCode.NONE;
  }

  leave(harness: Harness, topics: ConsumerTopicsImage, epoch = -1): number {
    const response = heartbeat(harness, topics, {
      groupId: this.groupId,
      memberId: this.memberId,
      memberEpoch: epoch,
      instanceId: this.instanceId,
    });
    this.owned.clear();
    this.target.clear();
    this.joined = false;
    return response?.errorCode ?? -1;
  }
}
