// Producer id blocks from the active controller, over the quorum (AllocateProducerIds).

import { ErrorCode } from '@gregor/protocol';
import type { ControllerClient } from '../grpc/controller-grpc.js';
import type { ProducerIdBlockResult, ProducerIdBlockSource } from './producer-id-manager.js';

/** How long one AllocateProducerIds may take, redirects and retries included. */
export const allocateProducerIdsTimeoutMs = 5_000;

export function controllerProducerIdSource(
  client: ControllerClient,
  brokerId: number,
  /** The broker's current registration epoch, -1 before it registered. */
  brokerEpoch: () => number,
): ProducerIdBlockSource {
  return {
    async allocateBlock(): Promise<ProducerIdBlockResult> {
      const epoch = brokerEpoch();
      if (epoch < 0) {
        return { ok: false, errorCode: ErrorCode.BROKER_NOT_AVAILABLE, message: 'not registered yet' };
      }
      const response = await client.call(
        'AllocateProducerIds',
        { brokerId, brokerEpoch: epoch },
        allocateProducerIdsTimeoutMs,
      );
      if (response.status.errorCode !== ErrorCode.NONE) {
        return { ok: false, errorCode: response.status.errorCode, message: response.status.errorMessage };
      }
      return {
        ok: true,
        block: { firstProducerId: response.firstProducerId, producerIdCount: response.producerIdCount },
      };
    },
  };
}
