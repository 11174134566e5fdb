// Produce to a compacted topic (cleanup.policy=compact, like __consumer_offsets): every record needs
// a key, since the cleaner keeps the last record per key. Keyless records are INVALID_RECORD for
// that partition (nothing is appended), as Kafka's LogValidator answers, and from v8 on the
// response names them (KIP-467 record_errors) so that the client can tell them from the rest.

import { ApiKey, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { afterEach, expect, it } from 'vitest';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createCompactedTopic(): Promise<void> {
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
}

function produceTo(records: Buffer, version: number) {
  return cluster.request(ApiKey.Produce, version, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: 'changelog', partitions: [{ partitionIndex: 0, records }] }],
  });
}

it('refuses keyless records on a compacted topic and accepts keyed ones', async () => {
  cluster = await LocalClusterFixture.start();
  await createCompactedTopic();
  const produce = (key: Buffer | null) =>
    produceTo(encodeRecordBatch({ records: [{ key, value: Buffer.from('v'), timestamp: 1 }] }), 8);
  const keyless = (await produce(null)).responses[0]!.partitions[0]!;
  expect(keyless.errorCode).toBe(ErrorCode.INVALID_RECORD);
  const keyed = (await produce(Buffer.from('k'))).responses[0]!.partitions[0]!;
  expect(keyed).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
});

it('names the keyless records of a refused batch from v8 on (KIP-467) and appends none of it', async () => {
  cluster = await LocalClusterFixture.start();
  await createCompactedTopic();
  const keys = ['a', null, 'b', 'c', null];
  const batch = encodeRecordBatch({
    records: keys.map((key) => ({
      key: key === null ? null : Buffer.from(key),
      value: Buffer.from('v'),
      timestamp: 1,
    })),
  });
  const refused = (await produceTo(batch, 8)).responses[0]!.partitions[0]!;
  const message = 'Compacted topic cannot accept message without key in topic partition changelog-0.';
  expect(refused).toMatchObject({
    errorCode: ErrorCode.INVALID_RECORD,
    baseOffset: -1n,
    recordErrors: [
      { batchIndex: 1, batchIndexErrorMessage: message },
      { batchIndex: 4, batchIndexErrorMessage: message },
    ],
  });
  expect(refused.errorMessage).toContain('One or more records have been rejected due to 2 record errors');
  // v7 has neither field: the same refusal, without them.
  const older = (await produceTo(batch, 7)).responses[0]!.partitions[0]!;
  expect(older.errorCode).toBe(ErrorCode.INVALID_RECORD);
  expect(older.recordErrors).toEqual([]);
  expect(older.errorMessage).toBeNull();
  // Nothing of either refused batch was appended: the keyed records sent again start at offset 0.
  const retried = encodeRecordBatch({
    records: ['a', 'b', 'c'].map((key) => ({ key: Buffer.from(key), value: Buffer.from('v'), timestamp: 1 })),
  });
  const accepted = (await produceTo(retried, 8)).responses[0]!.partitions[0]!;
  expect(accepted).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n, recordErrors: [] });
});
