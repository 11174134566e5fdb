// DescribeMetadata, the read the metadata shell makes against any node's controller listener.

import {
  applyRecords,
  decodeMetadataBatch,
  encodeImageSnapshot,
  encodeMetadataBatch,
  MetadataImage,
} from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { ControllerRpcDispatcher } from './controller-rpc.js';
import { MetadataPublisher } from './metadata-publisher.js';
import { type MetadataLog, QuorumController } from './quorum-controller.js';

const clusterId = 'describe-metadata-cluster';
const leaderId = 3;

/** A follower's view of the log: leader 3 is known, nothing is proposed from here. */
const followerLog: MetadataLog = {
  propose: () => Promise.reject(new Error('a follower does not propose')),
  status: () => ({ leaderId, epoch: 4, highWatermark: 0, logEndOffset: 0, isLeader: false }),
  onLeaderChange: () => undefined,
  leadershipConfirmedWithin: () => false,
};

function dispatcherOver(publisher: MetadataPublisher): ControllerRpcDispatcher {
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
  return new ControllerRpcDispatcher(1, clusterId, controller, publisher, [1, 2, 3]);
}

describe('DescribeMetadata', () => {
  it('answers a node that has applied nothing yet with an empty image, not an internal error', async () => {
    const response = await dispatcherOver(new MetadataPublisher()).dispatch('DescribeMetadata', {
      clusterId,
    });
    expect(response.status.errorCode).toBe(ErrorCode.NONE);
    expect(response.imageSnapshot).toHaveLength(0);
    expect(response).toMatchObject({ controllerId: leaderId, clusterId, metadataOffset: -1 });
  });

  it('answers a caller that does not know the cluster id yet (empty), with the cluster id', async () => {
    const publisher = new MetadataPublisher();
    const records = [{ type: 'controllerActivation' as const, controllerId: leaderId, controllerEpoch: 4 }];
    publisher.apply([{ offset: 0, type: 'data', payload: encodeMetadataBatch(records) }]);
    const dispatcher = dispatcherOver(publisher);
    const response = await dispatcher.dispatch('DescribeMetadata', { clusterId: '' });
    expect(response.status.errorCode).toBe(ErrorCode.NONE);
    expect(response.clusterId).toBe(clusterId);
    const image = applyRecords(MetadataImage.empty, decodeMetadataBatch(response.imageSnapshot));
    expect(encodeImageSnapshot(image)).toEqual(encodeImageSnapshot(publisher.image));

    const otherCluster = await dispatcher.dispatch('DescribeMetadata', { clusterId: 'another' });
    expect(otherCluster.status.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
    // Only the read is open to an empty id: changes still need the cluster id.
    const write = await dispatcher.dispatch('CreateTopics', {
      clusterId: '',
      topics: [],
      validateOnly: false,
    });
    expect(write.status.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
  });

  it('never sends the cluster secret: the image it answers is the node’s without it', async () => {
    const publisher = new MetadataPublisher();
    const secret = Buffer.alloc(32, 0x5c);
    const records = [
      { type: 'controllerActivation' as const, controllerId: leaderId, controllerEpoch: 4 },
      { type: 'clusterSecret' as const, secret },
    ];
    publisher.apply([{ offset: 0, type: 'data', payload: encodeMetadataBatch(records) }]);
    expect(publisher.image.clusterSecret).toEqual(secret);
    const response = await dispatcherOver(publisher).dispatch('DescribeMetadata', { clusterId: '' });
    const sent = decodeMetadataBatch(response.imageSnapshot);
    expect(sent.map((record) => record.type)).toEqual(['controllerActivation']);
    expect(Buffer.from(response.imageSnapshot).includes(secret)).toBe(false);
  });
});
