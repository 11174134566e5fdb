// Incremental fetch sessions (KIP-227) on the wire, against a broker process, with raw Fetch v12
// requests: a full fetch creates a session, an incremental one with nothing new answers no
// partitions, a produce makes the next one carry only that partition, forgotten partitions are
// dropped, a wrong epoch and an unknown id are refused, the session outlives its connection (as in
// Kafka), and a sessionless fetch (what librdkafka and kafkajs send) is answered in full, id 0.

import { KafkaConnection } from '@gregor/client';
import { ApiKey, ErrorCode, type RequestInput } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient, requestTimeoutMs } from '../testing/raw-cluster-client.js';

const topic = 'sessions';
const partitionCount = 8;

let cluster: ProcessCluster;
let client: RawClusterClient;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: { 'auto.create.topics.enable': 'false' },
  });
  client = new RawClusterClient(cluster);
  expect(await client.createTopic(1, topic, partitionCount, 1, {})).toBe(ErrorCode.NONE);
  for (let partition = 0; partition < partitionCount; partition++) {
    expect((await client.produce(1, topic, partition, [`first-${partition}`], 1)).errorCode).toBe(
      ErrorCode.NONE,
    );
  }
});

afterAll(async () => {
  client?.close();
  await cluster?.close();
});

interface Wanted {
  readonly partition: number;
  readonly fetchOffset: number;
}

function fetchRequest(
  sessionId: number,
  sessionEpoch: number,
  wanted: readonly Wanted[],
  forgotten: readonly number[] = [],
): RequestInput<typeof ApiKey.Fetch> {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 16 * 1024 * 1024,
    isolationLevel: 0,
    sessionId,
    sessionEpoch,
    topics:
      wanted.length === 0
        ? []
        : [
            {
              topic,
              partitions: wanted.map(({ partition, fetchOffset }) => ({
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(fetchOffset),
                lastFetchedEpoch: -1,
                logStartOffset: -1n,
                partitionMaxBytes: 1024 * 1024,
              })),
            },
          ],
    forgottenTopicsData: forgotten.length === 0 ? [] : [{ topic, partitions: [...forgotten] }],
    rackId: '',
  };
}

async function fetch(
  connection: KafkaConnection,
  sessionId: number,
  sessionEpoch: number,
  wanted: readonly Wanted[] = [],
  forgotten: readonly number[] = [],
) {
  const response = await connection.call(
    ApiKey.Fetch,
    12,
    fetchRequest(sessionId, sessionEpoch, wanted, forgotten),
    requestTimeoutMs,
  );
  const partitions = response.responses.flatMap((entry) =>
    entry.partitions.map((partition) => ({ topic: entry.topic, ...partition })),
  );
  return { response, partitions, indexes: partitions.map((partition) => partition.partitionIndex) };
}

const everyPartition = (fetchOffset: number): Wanted[] =>
  Array.from({ length: partitionCount }, (_, partition) => ({ partition, fetchOffset }));

describe('Fetch sessions against a broker process', () => {
  it('a full fetch creates a session; incremental fetches carry and answer only what changed', async () => {
    const connection = await client.connection(1);
    const full = await fetch(connection, 0, 0, everyPartition(0));
    expect(full.response.errorCode).toBe(ErrorCode.NONE);
    const sessionId = full.response.sessionId;
    expect(sessionId).not.toBe(0);
    expect(full.indexes).toEqual(Array.from({ length: partitionCount }, (_, index) => index));
    expect(full.partitions.every((partition) => partition.records!.length > 0)).toBe(true);

    // The client read one record everywhere: it sends the new offsets, the broker has nothing new.
    const caughtUp = await fetch(connection, sessionId, 1, everyPartition(1));
    expect(caughtUp.response).toMatchObject({ errorCode: ErrorCode.NONE, sessionId, responses: [] });
    const quiet = await fetch(connection, sessionId, 2);
    expect(quiet.response).toMatchObject({ errorCode: ErrorCode.NONE, sessionId, responses: [] });

    expect((await client.produce(1, topic, 5, ['second'], 1)).errorCode).toBe(ErrorCode.NONE);
    const produced = await fetch(connection, sessionId, 3);
    expect(produced.indexes).toEqual([5]);
    expect(produced.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 2n });
    expect(produced.partitions[0]!.records!.length).toBeGreaterThan(0);

    // Partition 5 forgotten, then written to: not answered. Partition 6 written to: answered.
    const forgot = await fetch(connection, sessionId, 4, [], [5]);
    expect(forgot.response.responses).toEqual([]);
    expect((await client.produce(1, topic, 5, ['third'], 1)).errorCode).toBe(ErrorCode.NONE);
    expect((await client.produce(1, topic, 6, ['second'], 1)).errorCode).toBe(ErrorCode.NONE);
    const afterForget = await fetch(connection, sessionId, 5);
    expect(afterForget.indexes).toEqual([6]);

    // Kafka keeps sessions across connections: a new connection goes on with the next epoch.
    const another = await KafkaConnection.open({
      host: '127.0.0.1',
      port: cluster.node(1).kafkaPort,
      connectTimeoutMs: 2_000,
    });
    try {
      const resumed = await fetch(another, sessionId, 6, [{ partition: 6, fetchOffset: 2 }]);
      expect(resumed.response).toMatchObject({ errorCode: ErrorCode.NONE, sessionId, responses: [] });
    } finally {
      another.close();
    }

    // Epoch 6 was used: sending it again is refused, and so is an id the broker never gave.
    const stale = await fetch(connection, sessionId, 6);
    expect(stale.response).toMatchObject({
      errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH,
      sessionId: 0,
      responses: [],
    });
    const unknown = await fetch(connection, sessionId === 1 ? 2 : 1, 1);
    expect(unknown.response).toMatchObject({
      errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
      sessionId: 0,
      responses: [],
    });
    expect((await fetch(connection, sessionId, 7)).response.errorCode).toBe(ErrorCode.NONE);
  });

  it('a sessionless fetch (epoch -1) is answered in full with session id 0, every time', async () => {
    const connection = await client.connection(1);
    for (let round = 0; round < 2; round++) {
      const sessionless = await fetch(connection, 0, -1, everyPartition(0));
      expect(sessionless.response).toMatchObject({ errorCode: ErrorCode.NONE, sessionId: 0 });
      expect(sessionless.indexes).toHaveLength(partitionCount);
    }
  });
});
