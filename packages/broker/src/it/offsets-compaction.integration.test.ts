// Compaction of `__consumer_offsets`: 10,000 groups commit an offset five times over (50,000 commit
// records); the log cleaner (every log.cleaner.backoff.ms, small offsets segments) shrinks the topic
// to about one record per key; after every broker is killed and restarted, the coordinators load
// the compacted logs and every group's last commit (offset and metadata) is still there.

import { ApiKey, KafkaConnection } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode, iterateBatches } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const offsetsTopic = '__consumer_offsets';
const offsetsPartitionCount = 10;
const dataTopic = 'compaction-topic';
const groupCount = 10_000;
const commitRounds = 5;
/** Commits in flight per coordinator connection (below the client's in-flight limit). */
const commitWindow = 500;
/** "About one record per key": what may remain beyond the 10,000 keys (active segments, dirty tail). */
const leftoverRecordsMax = 5_000;
/** Groups per batched OffsetFetch (v8) after the restart. */
const fetchGroupsPerRequest = 1_000;
/** Bounds on waits for the cleaner and for the restarted cluster (they normally take seconds). */
const settleWaitMs = 120_000;
const pollIntervalMs = 500;
const fetchMaxBytes = 8 * 1024 * 1024;

let cluster: ProcessCluster;
const connections = new Map<number, KafkaConnection>();

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'offsets.topic.num.partitions': String(offsetsPartitionCount),
      'offsets.topic.replication.factor': '1',
      'offsets.topic.segment.bytes': String(64 * 1024),
      'log.cleaner.backoff.ms': '500',
    },
  });
});

afterAll(async () => {
  closeConnections();
  await cluster?.close();
});

function closeConnections(): void {
  for (const connection of connections.values()) connection.close();
  connections.clear();
}

async function connectionTo(nodeId: number): Promise<KafkaConnection> {
  let connection = connections.get(nodeId);
  if (connection === undefined || connection.isClosed) {
    connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(nodeId).kafkaPort });
    connections.set(nodeId, connection);
  }
  return connection;
}

const waitOptions: WaitForOptions = {
  timeoutMs: settleWaitMs,
  intervalMs: pollIntervalMs,
  detail: () => cluster.tail(),
};

const groupIds = Array.from({ length: groupCount }, (_, index) => `compaction-group-${index}`);

/** Group id → coordinator node id, once every group in `wanted` has one. */
async function coordinators(wanted: readonly string[] = groupIds): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  await waitFor(
    'a coordinator for every group',
    async () => {
      const bootstrap = await connectionTo(1);
      const response = await bootstrap.call(ApiKey.FindCoordinator, 4, {
        key: '',
        keyType: 0,
        coordinatorKeys: wanted.filter((groupId) => !found.has(groupId)),
      });
      for (const coordinator of response.coordinators) {
        if (coordinator.errorCode === ErrorCode.NONE) found.set(coordinator.key, coordinator.nodeId);
      }
      return found.size === wanted.length;
    },
    waitOptions,
  );
  return found;
}

/** What a Kafka client does on these: find the coordinator again and retry the commit. */
const coordinatorMovedErrors: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

/**
 * Every group commits `round`. A coordinator may move meanwhile (a broker that misses its heartbeats
 * on a loaded machine is fenced, and with one replica its offsets partitions wait for it): those
 * groups find their coordinator again and retry, as clients do. Any other error fails the test.
 */
async function commitRound(round: number, coordinatorOf: Map<string, number>): Promise<void> {
  let pending = [...groupIds];
  const unexpected: string[] = [];
  await waitFor(
    `round ${round} committed by every group`,
    async () => {
      const byNode = new Map<number, string[]>();
      for (const groupId of pending) {
        const node = coordinatorOf.get(groupId)!;
        byNode.set(node, [...(byNode.get(node) ?? []), groupId]);
      }
      const retry: string[] = [];
      await Promise.all(
        [...byNode].map(async ([nodeId, groups]) => {
          const connection = await connectionTo(nodeId);
          for (let start = 0; start < groups.length; start += commitWindow) {
            const window = groups.slice(start, start + commitWindow);
            const responses = await Promise.all(
              window.map((groupId) =>
                connection.call(ApiKey.OffsetCommit, 2, {
                  groupId,
                  generationId: -1,
                  memberId: '',
                  retentionTimeMs: -1n,
                  topics: [
                    {
                      name: dataTopic,
                      partitions: [
                        {
                          partitionIndex: 0,
                          committedOffset: BigInt(round),
                          committedMetadata: `round-${round}`,
                        },
                      ],
                    },
                  ],
                }),
              ),
            );
            for (const [index, response] of responses.entries()) {
              const errorCode = response.topics[0]!.partitions[0]!.errorCode;
              if (errorCode === ErrorCode.NONE) continue;
              if (coordinatorMovedErrors.has(errorCode)) retry.push(window[index]!);
              else unexpected.push(`${window[index]}: error ${errorCode}`);
            }
          }
        }),
      );
      if (retry.length === 0 || unexpected.length > 0) return true;
      for (const [groupId, nodeId] of await coordinators(retry)) coordinatorOf.set(groupId, nodeId);
      pending = retry;
      return undefined;
    },
    waitOptions,
  );
  expect(unexpected).toEqual([]);
}

/**
 * Records (not counting control batches) in every partition of the offsets topic, from its leaders,
 * and the sum of their high watermarks (how many records were ever written).
 */
async function offsetsTopicRecordCount(): Promise<{ records: number; written: number }> {
  const metadata = await (await connectionTo(1)).call(ApiKey.Metadata, 1, {
    topics: [{ name: offsetsTopic }],
  });
  let records = 0;
  let written = 0;
  for (const partition of metadata.topics[0]!.partitions) {
    const leader = await connectionTo(partition.leaderId);
    let fetchOffset = 0n;
    for (;;) {
      const response = await leader.call(ApiKey.Fetch, 5, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: fetchMaxBytes,
        topics: [
          {
            topic: offsetsTopic,
            partitions: [
              { partition: partition.partitionIndex, fetchOffset, partitionMaxBytes: fetchMaxBytes },
            ],
          },
        ],
      });
      const fetched = response.responses[0]!.partitions[0]!;
      if (fetched.errorCode !== ErrorCode.NONE)
        throw new Error(`fetch of the offsets topic: ${fetched.errorCode}`);
      const bytes = fetched.records ?? Buffer.alloc(0);
      let progressed = false;
      for (const batch of iterateBatches(bytes)) {
        if (!batch.header.isControl) records += batch.records.length;
        fetchOffset = BigInt(batch.header.lastOffset + 1);
        progressed = true;
      }
      if (!progressed || fetchOffset >= fetched.highWatermark) {
        written += Number(fetched.highWatermark);
        break;
      }
    }
  }
  return { records, written };
}

describe('__consumer_offsets compaction', () => {
  it('shrinks 50,000 commits of 10,000 groups to about one record per group, and keeps every last commit across a restart', async () => {
    const admin = await connectionTo(1);
    const created = await admin.call(ApiKey.CreateTopics, 4, {
      topics: [{ name: dataTopic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);

    const coordinatorOf = await coordinators();
    for (let round = 1; round <= commitRounds; round++) await commitRound(round, coordinatorOf);

    await waitFor(
      'the cleaner to compact the offsets topic',
      async () => {
        const { records } = await offsetsTopicRecordCount();
        return records <= groupCount + leftoverRecordsMax;
      },
      waitOptions,
    );
    const compacted = await offsetsTopicRecordCount();
    expect(compacted.written).toBeGreaterThanOrEqual(groupCount * commitRounds);

    // Every broker dies at once and comes back: the groups are loaded from the compacted logs.
    closeConnections();
    for (const node of cluster.nodes) await cluster.kill(node.id);
    await Promise.all(cluster.nodes.map((node) => cluster.restart(node.id)));
    await cluster.waitReady();

    const restartedCoordinators = await coordinators();
    const lastCommits = new Map<string, { offset: bigint; metadata: string | null }>();
    await waitFor(
      'every group loaded with its last commit',
      async () => {
        const byNode = new Map<number, string[]>();
        for (const groupId of groupIds) {
          if (lastCommits.has(groupId)) continue;
          const node = restartedCoordinators.get(groupId)!;
          byNode.set(node, [...(byNode.get(node) ?? []), groupId]);
        }
        for (const [nodeId, groups] of byNode) {
          const connection = await connectionTo(nodeId);
          for (let start = 0; start < groups.length; start += fetchGroupsPerRequest) {
            const response = await connection.call(ApiKey.OffsetFetch, 8, {
              groupId: '',
              topics: [],
              groups: groups
                .slice(start, start + fetchGroupsPerRequest)
                .map((groupId) => ({ groupId, topics: [{ name: dataTopic, partitionIndexes: [0] }] })),
              requireStable: false,
            });
            for (const group of response.groups) {
              // COORDINATOR_LOAD_IN_PROGRESS while a partition loads: asked again on the next poll.
              if (group.errorCode !== ErrorCode.NONE) continue;
              const partition = group.topics[0]!.partitions[0]!;
              lastCommits.set(group.groupId, {
                offset: partition.committedOffset,
                metadata: partition.metadata,
              });
            }
          }
        }
        return lastCommits.size === groupCount;
      },
      waitOptions,
    );
    const wrong = [...lastCommits].filter(
      ([, commit]) => commit.offset !== BigInt(commitRounds) || commit.metadata !== `round-${commitRounds}`,
    );
    expect(wrong).toEqual([]);
    expect((await offsetsTopicRecordCount()).records).toBeLessThanOrEqual(groupCount + leftoverRecordsMax);
  });
});
