// DescribeQuorum over the controller service: only the Raft leader answers; the others redirect.

import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { ControllerRpcDispatcher, type QuorumView } from './controller-rpc.js';
import { MetadataPublisher } from './metadata-publisher.js';
import { type MetadataLog, QuorumController } from './quorum-controller.js';

const clusterId = 'describe-quorum-cluster';

const followerLog: MetadataLog = {
  propose: () => Promise.reject(new Error('a follower does not propose')),
  status: () => ({ leaderId: 2, epoch: 7, highWatermark: 40, logEndOffset: 40, isLeader: false }),
  onLeaderChange: () => undefined,
  leadershipConfirmedWithin: () => false,
};

function dispatcher(view: () => QuorumView | undefined): ControllerRpcDispatcher {
  const publisher = new MetadataPublisher();
  const controller = new QuorumController({
    nodeId: 1,
    clusterId,
    log: followerLog,
    publisher,
    config: {},
    random: { nextInt: () => 0 },
    nowMs: () => 0,
    logger: createLogger({ nodeId: 1, level: 'silent', prettyPrint: false }),
  });
  return new ControllerRpcDispatcher(1, clusterId, controller, publisher, [1, 2, 3], undefined, view);
}

describe('DescribeQuorum', () => {
  it('sends the caller to the leader it knows when this node does not lead the quorum', async () => {
    const response = await dispatcher(() => undefined).dispatch('DescribeQuorum', { clusterId });
    expect(response.status).toMatchObject({ errorCode: ErrorCode.NOT_CONTROLLER, leaderId: 2 });
    expect(response.voters).toEqual([]);
  });

  it('answers with the leader view when this node leads', async () => {
    const view: QuorumView = {
      leaderId: 1,
      leaderEpoch: 7,
      highWatermark: 40,
      voters: [
        { replicaId: 1, logEndOffset: 41, lastFetchTimestamp: 1_000, lastCaughtUpTimestamp: 1_000 },
        { replicaId: 2, logEndOffset: 40, lastFetchTimestamp: 990, lastCaughtUpTimestamp: 980 },
        { replicaId: 3, logEndOffset: -1, lastFetchTimestamp: -1, lastCaughtUpTimestamp: -1 },
      ],
    };
    const response = await dispatcher(() => view).dispatch('DescribeQuorum', { clusterId });
    expect(response.status.errorCode).toBe(ErrorCode.NONE);
    expect(response).toMatchObject({ leaderId: 1, leaderEpoch: 7, highWatermark: 40, voters: view.voters });
    const foreign = await dispatcher(() => view).dispatch('DescribeQuorum', { clusterId: 'other' });
    expect(foreign.status.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
  });
});
