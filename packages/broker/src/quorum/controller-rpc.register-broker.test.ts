// RegisterBroker at the controller RPC boundary: only the quorum's voters may register.

import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { ControllerRpcDispatcher } from './controller-rpc.js';
import { MetadataPublisher } from './metadata-publisher.js';
import { type MetadataLog, QuorumController } from './quorum-controller.js';

const clusterId = 'register-broker-cluster';
const voterIds = [1, 2, 3];

/** A follower's view of the log: node 3 leads, so a request that reaches the controller is redirected. */
const followerLog: MetadataLog = {
  propose: () => Promise.reject(new Error('a follower does not propose')),
  status: () => ({ leaderId: 3, epoch: 4, highWatermark: 0, logEndOffset: 0, isLeader: false }),
  onLeaderChange: () => undefined,
  leadershipConfirmedWithin: () => false,
};

function dispatcher(): ControllerRpcDispatcher {
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
  return new ControllerRpcDispatcher(1, clusterId, controller, publisher, voterIds);
}

const registration = (brokerId: number) => ({
  clusterId,
  brokerId,
  incarnationId: 'b5d3c1b2-7c0e-4d52-9f0e-3c1f5d2b8a11',
  listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9092, securityProtocol: 0 }],
  rack: '',
  hasRack: false,
});

describe('RegisterBroker', () => {
  it.each([4, 0, -1, 2_147_483_647])(
    'refuses broker %i, which is not a voter, before the controller',
    async (brokerId) => {
      const response = await dispatcher().dispatch('RegisterBroker', registration(brokerId));
      expect(response.status.errorCode).toBe(ErrorCode.INVALID_REQUEST);
      expect(response.status.errorMessage).toMatch(/not in controller.quorum.voters/);
      expect(response.brokerEpoch).toBe(-1);
    },
  );

  it('passes a voter on to the controller', async () => {
    const response = await dispatcher().dispatch('RegisterBroker', registration(2));
    // This node is not the active controller: the registration got as far as the controller.
    expect(response.status.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    expect(response.status.leaderId).toBe(3);
  });
});
