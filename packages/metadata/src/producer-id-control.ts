// Producer ids (Kafka's ProducerIdControlManager): blocks of ids handed to brokers for idempotent
// producers, each recorded in the log before anyone hears of it, so blocks never overlap, across
// brokers and controller failovers.

import { invariant } from '@gregor/ground';
import type { ClusterControlManager } from './cluster-control.js';
import type { ControllerBatch } from './controller-batch.js';
import type { ControllerConfig } from './controller-config.js';
import type { ControllerError } from './errors.js';
import type { MetadataImage } from './image.js';
import type { BrokerId } from './records.js';

/** Largest producer id handed out: ids are int64 on the wire but JS numbers here. */
export const producerIdMax = Number.MAX_SAFE_INTEGER;

export interface AllocateProducerIdsRequest {
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
}

export interface AllocateProducerIdsResponse {
  readonly firstProducerId: number;
  readonly producerIdCount: number;
}

export class ProducerIdControlManager {
  constructor(
    private readonly config: ControllerConfig,
    /** The controller's working image: every record proposed so far applied, committed or not. */
    private readonly image: () => MetadataImage,
    private readonly cluster: ClusterControlManager,
  ) {}

  /** AllocateProducerIds: a block no other broker got or will get, since the log records it. */
  allocateProducerIds(
    batch: ControllerBatch,
    request: AllocateProducerIdsRequest,
  ): AllocateProducerIdsResponse | ControllerError {
    const broker = this.cluster.registeredBroker(request.brokerId, request.brokerEpoch);
    if ('errorCode' in broker) return broker;
    const firstProducerId = this.image().producerIds?.nextProducerId ?? 0;
    const producerIdCount = this.config.producerIdBlockSize;
    // 2^53 ids at 1000 a block would take millennia at any allocation rate; running out is a bug.
    invariant(firstProducerId + producerIdCount <= producerIdMax, 'producer ids exhausted');
    batch.add({
      type: 'producerIds',
      brokerId: broker.brokerId,
      brokerEpoch: broker.brokerEpoch,
      nextProducerId: firstProducerId + producerIdCount,
    });
    return { firstProducerId, producerIdCount };
  }
}
