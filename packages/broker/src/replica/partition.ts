// A partition replica as the broker holds it: the replication state of @gregor/replication's
// Partition (role, high watermark, ISR decisions, leader-epoch cache) over storage's PartitionLog,
// plus the idempotent producers of that log, which every batch entering it updates (leader appends,
// follower appends and recovery alike), so a follower that becomes leader already knows what its
// predecessor accepted.

import {
  type PartitionOptions,
  type PartitionRegistration,
  Partition as ReplicatedPartition,
} from '@gregor/replication';
import type { PartitionLog } from '@gregor/storage';
import { ProducerStateManager } from './producer-state.js';

export type { PartitionRegistration, PartitionRole, PendingIsrChange } from '@gregor/replication';

export interface BrokerPartitionOptions extends PartitionOptions {
  /** The idempotent producers of the log, rebuilt from it when the partition was opened. */
  readonly producerState?: ProducerStateManager;
}

export class Partition extends ReplicatedPartition<PartitionLog> {
  readonly producerState: ProducerStateManager;

  constructor(
    topic: string,
    topicId: string,
    index: number,
    log: PartitionLog,
    localBrokerId: number,
    registration: PartitionRegistration,
    options: BrokerPartitionOptions = {},
  ) {
    super(topic, topicId, index, log, localBrokerId, registration, options);
    this.producerState = options.producerState ?? new ProducerStateManager();
  }

  /** Retention moved the log start: producers whose batches all lie below it are forgotten too. */
  override onLogStartOffsetMoved(): void {
    super.onLogStartOffsetMoved();
    this.producerState.removeBelow(this.log.logStartOffset);
  }
}
