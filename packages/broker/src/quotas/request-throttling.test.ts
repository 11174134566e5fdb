// Client quotas through the router: a Produce or consumer Fetch over its client's byte rate gets
// throttle_time_ms and a throttle for its connection; a Fetch over quota is answered without records.

import { ApiKey, decodeResponse, ErrorCode, type RequestInput } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function setQuota(
  key: string,
  value: number | null,
  entity = [{ entityType: 'client-id', entityName: 'fixture-client' }],
) {
  const response = await cluster.request(ApiKey.AlterClientQuotas, 1, {
    entries: [{ entity, ops: [{ key, value: value ?? 0, remove: value === null }] }],
    validateOnly: false,
  });
  expect(response.entries[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function createTopic(name: string) {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

const produceBody = (records: Buffer, acks = 1): RequestInput<typeof ApiKey.Produce> => ({
  transactionalId: null,
  acks,
  timeoutMs: 1000,
  topics: [{ name: 't', partitions: [{ partitionIndex: 0, records }] }],
});

const fetchBody = (fetchOffset: number): RequestInput<typeof ApiKey.Fetch> => ({
  replicaId: -1,
  maxWaitMs: 0,
  minBytes: 0,
  maxBytes: 50 * 1024 * 1024,
  isolationLevel: 0,
  sessionId: 0,
  sessionEpoch: -1,
  topics: [
    {
      topic: 't',
      partitions: [
        {
          partition: 0,
          currentLeaderEpoch: -1,
          fetchOffset: BigInt(fetchOffset),
          logStartOffset: -1n,
          partitionMaxBytes: 1024 * 1024,
        },
      ],
    },
  ],
  forgottenTopicsData: [],
  rackId: '',
});

const bigBatch = () => batchOf([Buffer.alloc(20_000, 'x').toString()]);

describe('client quotas on the request path', () => {
  it('throttles a producer over producer_byte_rate: the records are appended, the response says how long to wait', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    const first = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    expect(first.kind === 'respond' && first.throttle).toBeUndefined();

    await setQuota('producer_byte_rate', 1000);
    const outcome = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    if (outcome.kind !== 'respond') throw new Error('expected a response');
    // 20 kB over a fresh 10 s window is 2 kB/s against 1 kB/s: wait about another 10 s.
    expect(outcome.throttle?.timeMs).toBeGreaterThan(9_000);
    expect(outcome.throttle?.delayResponse).toBe(false); // v7 clients throttle themselves (KIP-219)
    const response = decodeResponse(ApiKey.Produce, 7, outcome.response);
    if (!response.ok) throw new Error(response.message);
    expect(response.body.throttleTimeMs).toBe(outcome.throttle!.timeMs);
    expect(response.body.responses[0]!.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 1n,
    });

    // A v5 client does not throttle itself: the connection holds its response back as well.
    const old = await cluster.send(ApiKey.Produce, 5, produceBody(bigBatch()));
    expect(old.kind === 'respond' && old.throttle?.delayResponse).toBe(true);
    // acks=0 has no response to carry it, but the connection is still throttled.
    const silent = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch(), 0));
    expect(silent).toMatchObject({ kind: 'no-response', throttle: { delayResponse: false } });

    await setQuota('producer_byte_rate', null);
    const free = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    expect(free.kind === 'respond' && free.throttle).toBeUndefined();
  });

  it('answers a consumer over consumer_byte_rate without records, and sends them once the rate allows', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    await setQuota('consumer_byte_rate', 1000);

    const throttled = await cluster.send(ApiKey.Fetch, 11, fetchBody(0));
    if (throttled.kind !== 'respond') throw new Error('expected a response');
    expect(throttled.throttle?.timeMs).toBeGreaterThan(0);
    const body = decodeResponse(ApiKey.Fetch, 11, throttled.response);
    if (!body.ok) throw new Error(body.message);
    expect(body.body.throttleTimeMs).toBe(throttled.throttle!.timeMs);
    expect(body.body.responses).toEqual([]);

    // The throttled response's bytes were not counted: with a quota the data fits, it is served.
    await setQuota('consumer_byte_rate', 5000);
    const served = await cluster.request(ApiKey.Fetch, 11, fetchBody(0));
    expect(served.throttleTimeMs).toBe(0);
    expect(served.responses[0]!.partitions[0]!.records?.length).toBeGreaterThan(20_000);
  });

  it('asks the log for no more than the consumer quota allows over its window', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    const sixKb = () => batchOf([Buffer.alloc(6_000, 'y').toString()]);
    await cluster.send(ApiKey.Produce, 7, produceBody(sixKb()));
    await cluster.send(ApiKey.Produce, 7, produceBody(sixKb()));
    // 1 kB/s over 10 windows of 1 s: at most 10 kB, so one of the two 6 kB batches.
    await setQuota('consumer_byte_rate', 1000);
    const capped = await cluster.request(ApiKey.Fetch, 11, fetchBody(0));
    expect(capped.throttleTimeMs).toBe(0);
    const records = capped.responses[0]!.partitions[0]!.records!;
    expect(records.length).toBeGreaterThan(6_000);
    expect(records.length).toBeLessThan(10_000);
  });
});
