import { controllerError } from '@gregor/metadata';
import { ApiKey, ErrorCode, encodeRequest, type RequestInput, zeroUuid } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { QuorumView } from '../quorum/controller-rpc.js';
import { createRequestRouter } from '../request-router.js';
import { decodeOutcome, LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { apiHandlers } from './api-handlers.js';
import type { MetadataQuorum } from './describe-quorum.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

const view: QuorumView = {
  leaderId: 1,
  leaderEpoch: 4,
  highWatermark: 120,
  voters: [
    { replicaId: 1, logEndOffset: 121, lastFetchTimestamp: 5_000, lastCaughtUpTimestamp: 5_000 },
    { replicaId: 2, logEndOffset: 118, lastFetchTimestamp: 4_990, lastCaughtUpTimestamp: 4_700 },
  ],
};

async function describeQuorum(
  quorum: MetadataQuorum,
  version: number,
  body: RequestInput<typeof ApiKey.DescribeQuorum>,
) {
  const router = createRequestRouter(cluster.context, apiHandlers({ quorum }));
  const frame = encodeRequest(ApiKey.DescribeQuorum, version, 3, 'test', body);
  return decodeOutcome(
    ApiKey.DescribeQuorum,
    version,
    await router(frame, { connectionId: 4, remoteAddress: '127.0.0.1:5', listenerName: 'PLAINTEXT' }),
  );
}

const nodes = () =>
  [1, 2].map((nodeId) => ({
    nodeId,
    listeners: [{ name: 'CONTROLLER', host: `c${nodeId}`, port: 9093 }],
  }));

const metadataPartition = {
  topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
};

describe('DescribeQuorum', () => {
  it("answers the quorum leader's view, with the voters' controller endpoints as nodes in v2", async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    const response = await describeQuorum({ describe: async () => view, nodes }, 2, metadataPartition);
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.topics[0]!.partitions[0]).toMatchObject({
      partitionIndex: 0,
      errorCode: ErrorCode.NONE,
      leaderId: 1,
      leaderEpoch: 4,
      highWatermark: 120n,
      observers: [],
    });
    expect(response.topics[0]!.partitions[0]!.currentVoters).toMatchObject([
      {
        replicaId: 1,
        replicaDirectoryId: zeroUuid,
        logEndOffset: 121n,
        lastFetchTimestamp: 5000n,
        lastCaughtUpTimestamp: 5000n,
      },
      {
        replicaId: 2,
        replicaDirectoryId: zeroUuid,
        logEndOffset: 118n,
        lastFetchTimestamp: 4990n,
        lastCaughtUpTimestamp: 4700n,
      },
    ]);
    expect(response.nodes).toMatchObject([
      { nodeId: 1, listeners: [{ name: 'CONTROLLER', host: 'c1', port: 9093 }] },
      { nodeId: 2, listeners: [{ name: 'CONTROLLER', host: 'c2', port: 9093 }] },
    ]);
    // v0 has no timestamps: the fields decode to their defaults.
    const v0 = await describeQuorum({ describe: async () => view, nodes }, 0, metadataPartition);
    expect(v0.topics[0]!.partitions[0]!.currentVoters[1]).toMatchObject({
      logEndOffset: 118n,
      lastFetchTimestamp: -1n,
    });
  });

  it('refuses any other topic or partition with UNKNOWN_TOPIC_OR_PARTITION, without asking the quorum', async () => {
    cluster = await LocalClusterFixture.start();
    let asked = 0;
    const quorum: MetadataQuorum = {
      describe: async () => {
        asked++;
        return view;
      },
      nodes,
    };
    for (const body of [
      { topics: [] },
      { topics: [{ topicName: 'orders', partitions: [{ partitionIndex: 0 }] }] },
      { topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 1 }] }] },
    ]) {
      const response = await describeQuorum(quorum, 1, body);
      expect(response).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, topics: [] });
    }
    expect(asked).toBe(0);
  });

  it("puts the quorum's failure on the partition (no leader reachable in time)", async () => {
    cluster = await LocalClusterFixture.start();
    const response = await describeQuorum(
      { describe: async () => controllerError(ErrorCode.REQUEST_TIMED_OUT, 'no controller answered'), nodes },
      2,
      metadataPartition,
    );
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.topics[0]!.partitions[0]).toMatchObject({
      errorCode: ErrorCode.REQUEST_TIMED_OUT,
      errorMessage: 'no controller answered',
      leaderId: -1,
      currentVoters: [],
    });
  });
});
