import { join } from 'node:path';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { StandardAuthorizer } from '../security/authorizer.js';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, numPartitions: number): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function produce(topic: string, values: string[]): Promise<void> {
  const response = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, records: batchOf(values) }] }],
  });
  expect(response.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

function alter(version: number, path: string, name: string, partitions: number[]) {
  return cluster.request(ApiKey.AlterReplicaLogDirs, version, {
    dirs: [{ path, topics: [{ name, partitions }] }],
  });
}

/** Where DescribeLogDirs places `topic-0`: each dir with isFuture, in order. */
async function placement(topic: string): Promise<{ logDir: string; isFuture: boolean }[]> {
  const response = await cluster.request(ApiKey.DescribeLogDirs, 4, { topics: [{ topic, partitions: [0] }] });
  return response.results.flatMap((dir) =>
    dir.topics.flatMap((entry) =>
      entry.partitions.map((p) => ({ logDir: dir.logDir, isFuture: p.isFutureKey })),
    ),
  );
}

async function fetchValuesCount(topic: string): Promise<bigint> {
  const response = await cluster.request(ApiKey.ListOffsets, 5, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }],
  });
  return response.topics[0]!.partitions[0]!.offset;
}

describe('AlterReplicaLogDirs', () => {
  it('moves a replica to the other log dir, reporting the future replica meanwhile, and it serves from there', async () => {
    cluster = await LocalClusterFixture.start({ secondLogDir: true });
    const second = join(cluster.logDir, 'second-log-dir');
    await createTopic('moved', 1);
    await produce('moved', ['a', 'b', 'c']);
    expect(await placement('moved')).toEqual([{ logDir: cluster.logDir, isFuture: false }]);
    // Already there: nothing to do.
    const inPlace = await alter(2, cluster.logDir, 'moved', [0]);
    expect(inPlace.results).toEqual([
      { topicName: 'moved', partitions: [{ partitionIndex: 0, errorCode: 0 }] },
    ]);

    const response = await alter(1, second, 'moved', [0]);
    expect(response.results).toEqual([
      { topicName: 'moved', partitions: [{ partitionIndex: 0, errorCode: 0 }] },
    ]);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const now = await placement('moved');
      seen.add(JSON.stringify(now));
      if (now.length === 1 && now[0]!.logDir === second) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await placement('moved')).toEqual([{ logDir: second, isFuture: false }]);
    // The copy was visible as a future replica in the target dir while it existed.
    expect(seen).toContain(
      JSON.stringify([
        { logDir: cluster.logDir, isFuture: false },
        { logDir: second, isFuture: true },
      ]),
    );
    await produce('moved', ['d']);
    expect(await fetchValuesCount('moved')).toBe(4n);
  });

  it('answers LOG_DIR_NOT_FOUND, UNKNOWN_TOPIC_OR_PARTITION and, with ACLs, CLUSTER_AUTHORIZATION_FAILED', async () => {
    cluster = await LocalClusterFixture.start({ secondLogDir: true });
    await createTopic('t', 1);
    const notADir = await alter(1, '/no/such/dir', 't', [0]);
    expect(notADir.results[0]!.partitions).toEqual([
      { partitionIndex: 0, errorCode: ErrorCode.LOG_DIR_NOT_FOUND },
    ]);
    const unknown = await alter(2, cluster.logDir, 'missing', [0, 1]);
    expect(unknown.results[0]!.partitions).toEqual([
      { partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
      { partitionIndex: 1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    ]);
    await cluster.close();

    const denyAll = new StandardAuthorizer(
      { superUsers: new Set(), allowEveryoneIfNoAclFound: false },
      () => new Map(),
    );
    cluster = await LocalClusterFixture.start({ authorizer: denyAll, secondLogDir: true });
    const refused = await alter(2, cluster.logDir, 't', [0]);
    expect(refused.results).toEqual([
      {
        topicName: 't',
        partitions: [{ partitionIndex: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED }],
      },
    ]);
  });
});
