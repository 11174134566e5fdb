import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
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

describe('ElectLeaders', () => {
  it('answers each named partition once, grouped by topic, through the controller', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 2);
    const response = await cluster.request(ApiKey.ElectLeaders, 2, {
      electionType: 0,
      topicPartitions: [
        { topic: 't', partitionId: [0, 1, 0] },
        { topic: 'missing', partitionId: [3] },
      ],
      timeoutMs: 1000,
    });
    expect(response).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      replicaElectionResults: [
        {
          topic: 't',
          partitionResult: [
            { partitionId: 0, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'ELECTION_NOT_NEEDED' },
            { partitionId: 1, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: 'ELECTION_NOT_NEEDED' },
          ],
        },
        {
          topic: 'missing',
          partitionResult: [
            {
              partitionId: 3,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: 'UNKNOWN_TOPIC_OR_PARTITION',
            },
          ],
        },
      ],
    });
  });

  it('UNCLEAN on a led partition needs no election; every partition (null) reports none of them', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const named = await cluster.request(ApiKey.ElectLeaders, 1, {
      electionType: 1,
      topicPartitions: [{ topic: 't', partitionId: [0] }],
      timeoutMs: 1000,
    });
    expect(named.replicaElectionResults[0]!.partitionResult[0]!.errorCode).toBe(
      ErrorCode.ELECTION_NOT_NEEDED,
    );
    const all = await cluster.request(ApiKey.ElectLeaders, 1, {
      electionType: 1,
      topicPartitions: null,
      timeoutMs: 1000,
    });
    expect(all).toMatchObject({ errorCode: ErrorCode.NONE, replicaElectionResults: [] });
  });

  it('refuses an unknown election type on every named partition', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', 1);
    const response = await cluster.request(ApiKey.ElectLeaders, 1, {
      electionType: 7,
      topicPartitions: [{ topic: 't', partitionId: [0] }],
      timeoutMs: 1000,
    });
    expect(response.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(response.replicaElectionResults[0]!.partitionResult[0]!.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });
});
