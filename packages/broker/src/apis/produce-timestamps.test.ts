// Produce to a CreateTime topic whose record timestamps are bounded around the broker's clock
// (message.timestamp.before.max.ms / after.max.ms, KIP-937; Kafka 4's defaults: no bound on the
// past, one hour on the future). A record out of bounds refuses its batch with INVALID_TIMESTAMP,
// nothing appended, and from v8 on the response names it (KIP-467 record_errors). The topic config
// reaches the leader's validator from the metadata image, on creation and on every alteration; the
// time is the broker's clock (here the fixture's manual one).

import {
  ApiKey,
  alterConfigOpType,
  configResourceType,
  ErrorCode,
  encodeRecordBatch,
} from '@gregor/protocol';
import { afterEach, expect, it } from 'vitest';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

const hourMs = 3_600_000;

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, configs: Record<string, string>) {
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([configName, value]) => ({ name: configName, value })),
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  });
  return created.topics[0]!;
}

async function alter(resourceType: number, resourceName: string, name: string, value: string) {
  const response = await cluster.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [
      {
        resourceType,
        resourceName,
        configs: [{ name, configOperation: alterConfigOpType.set, value }],
      },
    ],
    validateOnly: false,
  });
  expect(response.responses[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function produce(topic: string, timestamps: readonly number[], version = 8) {
  const records = encodeRecordBatch({
    records: timestamps.map((timestamp) => ({ key: null, value: Buffer.from('v'), timestamp })),
  });
  const response = await cluster.request(ApiKey.Produce, version, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, records }] }],
  });
  return response.responses[0]!.partitions[0]!;
}

const outOfRange = (timestamp: number, offset: number, nowMs: number, beforeMs: number, afterMs: number) =>
  `Timestamp ${timestamp} of message with offset ${offset} is out of range. ` +
  `The timestamp should be within [${nowMs - beforeMs}, ${nowMs + afterMs}]`;

it('refuses a batch with records stamped out of bounds, naming them from v8 on, and appends none of it', async () => {
  cluster = await LocalClusterFixture.start();
  expect((await createTopic('events', { 'message.timestamp.before.max.ms': String(hourMs) })).errorCode).toBe(
    ErrorCode.NONE,
  );
  const nowMs = cluster.clock.nowMs();
  const refused = await produce('events', [nowMs - 2 * hourMs, nowMs, nowMs + 2 * hourMs]);
  expect(refused).toMatchObject({
    errorCode: ErrorCode.INVALID_TIMESTAMP,
    baseOffset: -1n,
    recordErrors: [
      { batchIndex: 0, batchIndexErrorMessage: outOfRange(nowMs - 2 * hourMs, 0, nowMs, hourMs, hourMs) },
      { batchIndex: 2, batchIndexErrorMessage: outOfRange(nowMs + 2 * hourMs, 2, nowMs, hourMs, hourMs) },
    ],
  });
  expect(refused.errorMessage).toContain('One or more records have been rejected due to invalid timestamp');
  // v7 has neither field: the same refusal, without them.
  const older = await produce('events', [nowMs - 2 * hourMs], 7);
  expect(older).toMatchObject({
    errorCode: ErrorCode.INVALID_TIMESTAMP,
    recordErrors: [],
    errorMessage: null,
  });
  // Nothing of the refused batches was appended.
  expect(await produce('events', [nowMs - hourMs / 2, nowMs])).toMatchObject({
    errorCode: ErrorCode.NONE,
    baseOffset: 0n,
  });
  // The bound follows the broker's clock: three hours on, that timestamp is too old.
  cluster.clock.advanceMs(3 * hourMs);
  expect((await produce('events', [nowMs])).errorCode).toBe(ErrorCode.INVALID_TIMESTAMP);
});

it('follows the topic config as it is altered, and the dynamic broker default where the topic sets none', async () => {
  cluster = await LocalClusterFixture.start();
  await createTopic('altered', {});
  const nowMs = cluster.clock.nowMs();
  // Kafka 4's defaults: a record from 2001 is accepted, one two hours ahead is not.
  expect((await produce('altered', [1_000_000_000_000])).errorCode).toBe(ErrorCode.NONE);
  expect((await produce('altered', [nowMs + 2 * hourMs])).errorCode).toBe(ErrorCode.INVALID_TIMESTAMP);
  await alter(configResourceType.topic, 'altered', 'message.timestamp.after.max.ms', String(3 * hourMs));
  expect((await produce('altered', [nowMs + 2 * hourMs])).errorCode).toBe(ErrorCode.NONE);
  await alter(configResourceType.broker, '', 'log.message.timestamp.before.max.ms', String(hourMs));
  const old = await produce('altered', [1_000_000_000_000]);
  expect(old).toMatchObject({
    errorCode: ErrorCode.INVALID_TIMESTAMP,
    recordErrors: [
      { batchIndex: 0, batchIndexErrorMessage: outOfRange(1_000_000_000_000, 0, nowMs, hourMs, 3 * hourMs) },
    ],
  });
});

it('leaves a LogAppendTime topic unchecked, and refuses message.timestamp.difference.max.ms as Kafka 4 does', async () => {
  cluster = await LocalClusterFixture.start();
  await createTopic('appended', {
    'message.timestamp.type': 'LogAppendTime',
    'message.timestamp.before.max.ms': '0',
    'message.timestamp.after.max.ms': '0',
  });
  const nowMs = cluster.clock.nowMs();
  expect(await produce('appended', [1, nowMs + 100 * hourMs])).toMatchObject({
    errorCode: ErrorCode.NONE,
    logAppendTimeMs: BigInt(nowMs),
  });
  const removed = await createTopic('removed', { 'message.timestamp.difference.max.ms': '1000' });
  expect(removed.errorCode).toBe(ErrorCode.INVALID_CONFIG);
  const negative = await createTopic('negative', { 'message.timestamp.before.max.ms': '-1' });
  expect(negative.errorCode).toBe(ErrorCode.INVALID_CONFIG);
});
