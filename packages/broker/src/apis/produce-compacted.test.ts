// Produce to a compacted topic (cleanup.policy=compact, like __consumer_offsets): every record needs
// a key, since the cleaner keeps the last record per key. Keyless records are INVALID_RECORD for
// that partition (nothing is appended), as Kafka's LogValidator answers.

import { ApiKey, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { afterEach, expect, it } from 'vitest';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

it('refuses keyless records on a compacted topic and accepts keyed ones', async () => {
  cluster = await LocalClusterFixture.start();
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name: 'changelog',
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  const produce = (key: Buffer | null) =>
    cluster.request(ApiKey.Produce, 8, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [
        {
          name: 'changelog',
          partitions: [
            {
              partitionIndex: 0,
              records: encodeRecordBatch({ records: [{ key, value: Buffer.from('v'), timestamp: 1 }] }),
            },
          ],
        },
      ],
    });
  const keyless = (await produce(null)).responses[0]!.partitions[0]!;
  expect(keyless.errorCode).toBe(ErrorCode.INVALID_RECORD);
  const keyed = (await produce(Buffer.from('k'))).responses[0]!.partitions[0]!;
  expect(keyed).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
});
