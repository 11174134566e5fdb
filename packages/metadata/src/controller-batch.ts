// The records one controller operation produces, built against a MetadataDelta so that each record
// sees the ones before it (a fence, then the partition changes it causes). Every manager adds to the
// same batch; the Controller seals it into its working image only when the operation succeeds, and
// the driver proposes it as ONE atomic Raft entry.

import { isBrokerActive, isReplicaOffline, MetadataDelta, type MetadataImage } from './image.js';
import type { IsActive } from './partition-election.js';
import type { MetadataRecord, TopicId } from './records.js';

export class ControllerBatch {
  readonly records: MetadataRecord[] = [];
  readonly delta: MetadataDelta;
  readonly isActive: IsActive = (brokerId) => isBrokerActive(this.delta.broker(brokerId));

  constructor(image: MetadataImage) {
    this.delta = new MetadataDelta(image);
  }

  /** Which replicas of one partition may lead or join its ISR: active, and not offline there. */
  eligible(topicId: TopicId, partitionIndex: number): IsActive {
    return (brokerId) => {
      const broker = this.delta.broker(brokerId);
      return isBrokerActive(broker) && !isReplicaOffline(broker, topicId, partitionIndex);
    };
  }

  add(record: MetadataRecord): void {
    this.delta.replay(record);
    this.records.push(record);
  }
}
