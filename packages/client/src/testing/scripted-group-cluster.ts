// A scripted stand-in for the Cluster a Consumer talks to, for the consumer's unit tests: one
// broker that is the group's coordinator and answers the group protocol as a Kafka coordinator
// does for a follower member ('other-member' leads, so the assignment comes from SyncGroup) and
// the committed offsets from OffsetFetch. Each test's subclass scripts Fetch (and overrides any
// other answer it needs to vary); the rest is the same everywhere, so it lives here once.

import { ApiKey, encodeRecordBatch } from '@gregor/protocol';
import { encodeAssignment } from '../consumer/consumer-protocol.js';
import { resolveRetry, sleep } from '../retry.js';

/** The Fetch request fields the scripted brokers read. */
export interface ScriptedFetchBody {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  readonly maxBytes: number;
  readonly topics: {
    topic: string;
    partitions: { partition: number; fetchOffset: bigint; partitionMaxBytes: number }[];
  }[];
  readonly forgottenTopicsData: { topic: string; partitions: number[] }[];
}

export interface ScriptedGroupOptions {
  /** What OffsetFetch answers for every assigned partition (0 by default). */
  readonly committedOffset?: bigint;
  /** How long each Fetch takes to answer, in ms (2 by default). */
  readonly fetchDelayMs?: number;
}

/** The name of an API key, as the scripted brokers log and report it. */
export const apiName = (apiKey: number): string =>
  Object.entries(ApiKey).find(([, value]) => value === apiKey)?.[0] ?? `api ${apiKey}`;

/** One batch of `count` records from `fetchOffset`, values `<partition>:<offset>`. */
export function scriptedRecords(partition: number, fetchOffset: bigint, count: number): Buffer {
  return encodeRecordBatch({
    baseOffset: Number(fetchOffset),
    records: Array.from({ length: count }, (_, index) => ({
      key: null,
      value: Buffer.from(`${partition}:${Number(fetchOffset) + index}`),
      headers: [],
      timestamp: 1_000,
    })),
  });
}

/**
 * A Fetch answer from a log that never ends: every partition asked for brings `recordsPerFetch`
 * records from its fetch offset, with a high watermark `ahead` past that offset.
 */
export function endlessFetchAnswer(body: ScriptedFetchBody, recordsPerFetch: number, ahead: bigint): unknown {
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: body.topics.map((topic) => ({
      topic: topic.topic,
      partitions: topic.partitions.map(({ partition, fetchOffset }) => ({
        partitionIndex: partition,
        errorCode: 0,
        highWatermark: fetchOffset + ahead,
        abortedTransactions: null,
        records: scriptedRecords(partition, fetchOffset, recordsPerFetch),
      })),
    })),
  };
}

export abstract class ScriptedGroupCluster {
  retry = resolveRetry({ retries: 2, initialRetryTime: 1, maxRetryTime: 2 });
  /** Every API the consumer called, in order. */
  readonly apis: string[] = [];
  /** What Heartbeat answers. */
  heartbeatErrorCode = 0;

  constructor(
    /** What SyncGroup assigns this member: topic → partitions. */
    public assignment: Map<string, number[]>,
    private readonly options: ScriptedGroupOptions = {},
  ) {}

  async connect(): Promise<void> {}
  disconnect(): void {}
  async ensureTopics(): Promise<void> {}
  addTargetTopics(): void {}
  async refreshMetadata(): Promise<void> {}
  /** How many times the consumer looked the coordinator up. */
  findCoordinatorCalls = 0;
  async findCoordinator(): Promise<number> {
    this.findCoordinatorCalls++;
    return 1;
  }
  leaderFor(_topic: string, _partition: number): number {
    return 1;
  }
  /** No topic ids: the consumer fetches by name (below Fetch v13). */
  topicIdOf(_topic: string): string | undefined {
    return undefined;
  }
  topicNameOf(_topicId: string): string | undefined {
    return undefined;
  }
  partitionCount(topic: string): number {
    return this.assignment.get(topic)?.length ?? 0;
  }
  sendVersioned(_nodeId: number, apiKey: number, body: (version: number) => Record<string, unknown>) {
    return this.answer(apiKey, body(apiKey === ApiKey.JoinGroup ? 6 : 4));
  }
  /** The version sendVersioned answers at. */
  async versionFor(_nodeId: number, apiKey: number, maxVersion: number): Promise<number> {
    return Math.min(maxVersion, apiKey === ApiKey.JoinGroup ? 6 : 4);
  }
  send(_nodeId: number, apiKey: number, body: Record<string, unknown>) {
    return this.answer(apiKey, body);
  }

  /** The answer to Fetch (after `fetchDelayMs`). */
  protected abstract fetch(body: ScriptedFetchBody): unknown;

  protected joinGroup(): unknown {
    return {
      errorCode: 0,
      generationId: 1,
      protocolName: 'RoundRobinAssigner',
      leader: 'other-member',
      memberId: 'member-1',
      members: [],
    };
  }

  protected offsetCommit(_body: Record<string, unknown>): unknown {
    return { topics: [] };
  }

  /** What Heartbeat answers: `heartbeatErrorCode`. */
  protected heartbeat(_body: Record<string, unknown>): unknown {
    return { errorCode: this.heartbeatErrorCode };
  }

  /** What OffsetFetch answers: `committedOffset` (0 by default) for every assigned partition. */
  protected offsetFetch(): unknown {
    return {
      errorCode: 0,
      topics: [...this.assignment].map(([name, partitions]) => ({
        name,
        partitions: partitions.map((partitionIndex) => ({
          partitionIndex,
          committedOffset: this.options.committedOffset ?? 0n,
          errorCode: 0,
        })),
      })),
    };
  }

  private async answer(apiKey: number, body: Record<string, unknown>): Promise<unknown> {
    this.apis.push(apiName(apiKey));
    switch (apiKey) {
      case ApiKey.JoinGroup:
        return this.joinGroup();
      case ApiKey.SyncGroup:
        return { errorCode: 0, assignment: encodeAssignment(this.assignment) };
      case ApiKey.OffsetFetch:
        return this.offsetFetch();
      case ApiKey.Fetch:
        await sleep(this.options.fetchDelayMs ?? 2);
        return this.fetch(body as unknown as ScriptedFetchBody);
      case ApiKey.Heartbeat:
        return this.heartbeat(body);
      case ApiKey.OffsetCommit:
        return this.offsetCommit(body);
      case ApiKey.LeaveGroup:
        return { errorCode: 0, members: [] };
      default:
        throw new Error(`unexpected ${apiName(apiKey)}`);
    }
  }
}
