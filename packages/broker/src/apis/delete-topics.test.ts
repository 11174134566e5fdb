import { access } from 'node:fs/promises';
import { ApiKey, ErrorCode, zeroUuid } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { topicIdToWire } from './topic-ids.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function create(name: string, numPartitions = 2): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('DeleteTopics', () => {
  it('deletes by name: gone from the image, the replica manager and the disk', async () => {
    cluster = await LocalClusterFixture.start();
    await create('doomed');
    const dir = cluster.replicaManager.partition('doomed', 0)!.log.dir;
    await cluster.request(ApiKey.Produce, 7, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [{ name: 'doomed', partitions: [{ partitionIndex: 0, records: batchOf(['x']) }] }],
    });
    const response = await cluster.request(ApiKey.DeleteTopics, 4, {
      topicNames: ['doomed', 'never-was'],
      timeoutMs: 1000,
    });
    expect(response.responses.map((result) => [result.name, result.errorCode])).toEqual([
      ['doomed', ErrorCode.NONE],
      ['never-was', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
    expect(cluster.image().topic('doomed')).toBeUndefined();
    expect(cluster.replicaManager.partition('doomed', 0)).toBeUndefined();
    expect(await exists(dir)).toBe(false);
    const produced = await cluster.request(ApiKey.Produce, 7, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [{ name: 'doomed', partitions: [{ partitionIndex: 0, records: batchOf(['x']) }] }],
    });
    expect(produced.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('lets a topic be created again under the same name in the same process, empty and served', async () => {
    cluster = await LocalClusterFixture.start();
    const produceTo = async (value: string) =>
      (
        await cluster.request(ApiKey.Produce, 7, {
          transactionalId: null,
          acks: 1,
          timeoutMs: 1000,
          topics: [{ name: 'again', partitions: [{ partitionIndex: 1, records: batchOf([value]) }] }],
        })
      ).responses[0]!.partitions[0]!;
    for (const round of [1, 2, 3]) {
      await create('again');
      const partition = cluster.replicaManager.partition('again', 1)!;
      expect(partition.log.logEndOffset).toBe(0);
      expect(await produceTo(`round ${round}`)).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
      const fetched = await cluster.request(ApiKey.Fetch, 4, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        topics: [
          { topic: 'again', partitions: [{ partition: 1, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
        ],
      });
      expect(fetched.responses[0]!.partitions[0]!.highWatermark).toBe(1n);
      const deleted = await cluster.request(ApiKey.DeleteTopics, 4, {
        topicNames: ['again'],
        timeoutMs: 1000,
      });
      expect(deleted.responses[0]!.errorCode).toBe(ErrorCode.NONE);
      expect(await exists(partition.log.dir)).toBe(false);
    }
    expect(cluster.replicaManager.setAsideReplicaKeys()).toEqual([]);
    expect(cluster.logLines.some((line) => line.includes('"level":50'))).toBe(false);
  });

  it('v6 deletes by topic id and reports unknown ids', async () => {
    cluster = await LocalClusterFixture.start();
    await create('by-id');
    const topicId = topicIdToWire(cluster.image().topic('by-id')!.topicId);
    const unknownId = 'f'.repeat(32);
    const response = await cluster.request(ApiKey.DeleteTopics, 6, {
      topics: [
        { name: null, topicId },
        { name: null, topicId: unknownId },
        { name: 'also-unknown', topicId: zeroUuid },
      ],
      // Only v0-5 carry topic names; the input type asks for it at every version.
      topicNames: [],
      timeoutMs: 1000,
    });
    expect(response.responses.map((result) => [result.name, result.errorCode])).toEqual([
      ['by-id', ErrorCode.NONE],
      [null, ErrorCode.UNKNOWN_TOPIC_ID],
      ['also-unknown', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ]);
    expect(response.responses[0]!.topicId).toBe(topicId);
    expect(cluster.image().topic('by-id')).toBeUndefined();
  });

  it('delete.topic.enable=false refuses every topic and deletes nothing', async () => {
    cluster = await LocalClusterFixture.start({ settings: { deleteTopicEnable: false } });
    await create('kept');
    const v5 = await cluster.request(ApiKey.DeleteTopics, 5, {
      topicNames: ['kept', 'unknown'],
      timeoutMs: 1000,
    });
    expect(v5.responses.map((result) => [result.name, result.errorCode, result.errorMessage])).toEqual([
      ['kept', ErrorCode.TOPIC_DELETION_DISABLED, 'Topic deletion is disabled.'],
      ['unknown', ErrorCode.TOPIC_DELETION_DISABLED, 'Topic deletion is disabled.'],
    ]);
    // Before v3 clients do not know TOPIC_DELETION_DISABLED: Kafka answers INVALID_REQUEST there.
    const v1 = await cluster.request(ApiKey.DeleteTopics, 1, { topicNames: ['kept'], timeoutMs: 1000 });
    expect(v1.responses[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(cluster.image().topic('kept')).toBeDefined();
    expect(cluster.replicaManager.partition('kept', 0)).toBeDefined();
  });
});
