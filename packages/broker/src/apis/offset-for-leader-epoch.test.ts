import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

describe('OffsetForLeaderEpoch (consumers)', () => {
  it('answers the end offset of an epoch at the leader, and checks the client epoch', async () => {
    cluster = await LocalClusterFixture.start();
    await cluster.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: 't', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    await cluster.request(ApiKey.Produce, 7, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, records: batchOf(['a', 'b', 'c']) }] }],
    });
    const ask = async (
      version: number,
      partitions: { currentLeaderEpoch: number; leaderEpoch: number }[],
      topic = 't',
    ) =>
      (
        await cluster.request(ApiKey.OffsetForLeaderEpoch, version, {
          replicaId: -1,
          topics: [{ topic, partitions: partitions.map((p) => ({ partition: 0, ...p })) }],
        })
      ).topics[0]!.partitions.map((p) => [p.errorCode, p.leaderEpoch, Number(p.endOffset)]);
    for (const version of [2, 3, 4]) {
      expect(
        await ask(version, [
          { currentLeaderEpoch: 0, leaderEpoch: 0 },
          { currentLeaderEpoch: -1, leaderEpoch: 7 },
          { currentLeaderEpoch: 3, leaderEpoch: 0 },
        ]),
      ).toEqual([
        [ErrorCode.NONE, 0, 3],
        // An epoch newer than the leader's latest is unknown, as Kafka answers.
        [ErrorCode.NONE, -1, -1],
        [ErrorCode.UNKNOWN_LEADER_EPOCH, -1, -1],
      ]);
    }
    expect(await ask(4, [{ currentLeaderEpoch: -1, leaderEpoch: 0 }], 'missing')).toEqual([
      [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1],
    ]);
  });
});
