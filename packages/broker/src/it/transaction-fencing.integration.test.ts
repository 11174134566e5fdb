// Sequence numbers across transaction boundaries, against a broker process, spoken directly on the
// wire so the test controls every sequence number. The case is what librdkafka does after
// abort_transaction purges a record that a lost connection had put back in its retry queue: the
// record may be in the log (in the aborted transaction), and the next transaction's first record on
// that partition carries the same sequence and epoch. Kafka answers that as a duplicate of the
// aborted record (success, nothing stored): a committed transaction then misses the record. Gregor
// refuses it with OUT_OF_ORDER_SEQUENCE_NUMBER (librdkafka raises a fatal error, the application
// starts a new producer) and keeps answering genuine retries inside a transaction as duplicates.
// Also: a marker from a coordinator epoch older than the producer's last marker is refused with
// TRANSACTION_COORDINATOR_FENCED (a coordinator that lost its __transaction_state partition).

import type { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient, requestTimeoutMs } from '../testing/raw-cluster-client.js';
import { RawTransactionalProducer } from '../testing/raw-transactional-producer.js';

const topic = 'txn-sequences';
const transactionalId = 'txn-sequences-producer';
const waitTimeoutMs = 60_000;

let cluster: ProcessCluster;
let client: RawClusterClient;
let connection: KafkaConnection;
let producer: RawTransactionalProducer;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      'auto.create.topics.enable': 'false',
      'offsets.topic.replication.factor': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'transaction.state.log.num.partitions': '1',
    },
  });
  client = new RawClusterClient(cluster);
  expect(await client.createTopic(1, topic, 1, 1, {})).toBe(ErrorCode.NONE);
  connection = await client.connection(1);
  producer = await RawTransactionalProducer.init(client, {
    transactionalId,
    viaNodeId: 1,
    waitTimeoutMs,
    detail: () => cluster.tail(40),
  });
});

afterAll(async () => {
  client?.close();
  await cluster?.close();
});

async function produce(
  baseSequence: number,
  value: string,
): Promise<{ errorCode: number; baseOffset: number }> {
  const records = producer.batch(baseSequence, value);
  const response = await connection.call(
    ApiKey.Produce,
    7,
    {
      transactionalId,
      acks: -1,
      timeoutMs: 10_000,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, records }] }],
    },
    requestTimeoutMs,
  );
  const result = response.responses[0]?.partitions[0];
  return { errorCode: result?.errorCode ?? -1, baseOffset: Number(result?.baseOffset ?? -1n) };
}

/** The values a read_committed fetch returns from the start of the partition. */
async function committedValues(): Promise<string[]> {
  const values: string[] = [];
  await waitFor(
    'the last stable offset past every marker',
    async () => {
      values.length = 0;
      const response = await connection.call(
        ApiKey.Fetch,
        11,
        {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1024 * 1024,
          isolationLevel: 1,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [
            {
              topic,
              partitions: [
                {
                  partition: 0,
                  currentLeaderEpoch: -1,
                  fetchOffset: 0n,
                  logStartOffset: -1n,
                  partitionMaxBytes: 1024 * 1024,
                },
              ],
            },
          ],
          forgottenTopicsData: [],
          rackId: '',
        },
        requestTimeoutMs,
      );
      const data = response.responses[0]?.partitions[0];
      if (data === undefined || data.lastStableOffset !== data.highWatermark) return false;
      const fetched = await client.readAll(1, topic, 0); // read_uncommitted: every record
      const aborted = (data.abortedTransactions ?? []).map((entry) => Number(entry.firstOffset));
      for (const record of fetched.records) {
        // One aborted transaction of one record each here: its first offset is the record.
        if (!aborted.includes(record.offset)) values.push(record.value);
      }
      return true;
    },
    { timeoutMs: waitTimeoutMs, intervalMs: 100 },
  );
  return values;
}

describe('transactional sequence numbers', () => {
  it('answers a retry inside the transaction as a duplicate, and refuses a sequence reused by the next transaction', async () => {
    // Transaction 1: sequence 0 is stored; its retry (same bytes' sequence) is the same record.
    await producer.addPartition(topic, 0);
    const first = await produce(0, 'aborted-record');
    expect(first.errorCode).toBe(ErrorCode.NONE);
    const retry = await produce(0, 'aborted-record');
    expect(retry).toEqual({ errorCode: ErrorCode.NONE, baseOffset: first.baseOffset });
    // The client gave up on its record (as librdkafka's purge does) and aborted.
    await producer.end(false);

    // Transaction 2 starts again at sequence 0 with the same epoch: refused, not acknowledged as
    // a duplicate of the aborted record.
    await producer.addPartition(topic, 0);
    const reused = await produce(0, 'lost-if-answered-as-duplicate');
    expect(reused.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    // The right next sequence is accepted, and the transaction commits what it holds.
    const next = await produce(1, 'committed-record');
    expect(next.errorCode).toBe(ErrorCode.NONE);
    expect(next.baseOffset).toBeGreaterThan(first.baseOffset);
    await producer.end(true);

    expect(await committedValues()).toEqual(['committed-record']);
  });

  it('refuses a marker from a coordinator epoch older than the last one for the producer', async () => {
    const writeMarker = async (coordinatorEpoch: number): Promise<number | undefined> => {
      const response = await connection.call(
        ApiKey.WriteTxnMarkers,
        1,
        {
          markers: [
            {
              producerId: 777n,
              producerEpoch: 0,
              transactionResult: false,
              topics: [{ name: topic, partitionIndexes: [0] }],
              coordinatorEpoch,
            },
          ],
        },
        requestTimeoutMs,
      );
      return response.markers[0]?.topics[0]?.partitions[0]?.errorCode;
    };
    // A producer the partition knows (its batch is in the log).
    const batch = RawClusterClient.idempotentBatch({ producerId: 777, producerEpoch: 0 }, 0, ['known']);
    expect((await client.produceRecords(1, topic, 0, batch, -1)).errorCode).toBe(ErrorCode.NONE);
    expect(await writeMarker(5)).toBe(ErrorCode.NONE);
    expect(await writeMarker(4)).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    expect(await writeMarker(5)).toBe(ErrorCode.NONE);
    expect(await writeMarker(6)).toBe(ErrorCode.NONE);
  });
});
