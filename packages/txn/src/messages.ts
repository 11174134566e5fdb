// What goes into the transaction coordinator and what comes out: requests (field names as in
// @gregor/protocol's decoded messages, ids as numbers), responses, and the effects a driver carries
// out (answer a request, append records to a `__transaction_state` partition, write transaction
// markers to the partitions of a transaction).

import type { TopicPartitions, TransactionLogRecord } from './transaction-records.js';

export type RequestId = number;
export type AppendToken = number;
export type MarkerToken = number;

export interface InitProducerIdRequest {
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  /** -1 unless the producer asks to bump its own epoch (v3, KIP-360). */
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface AddPartitionsToTxnRequest {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly partitions: readonly TopicPartitions[];
}

export interface AddOffsetsToTxnRequest {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly groupId: string;
}

export interface EndTxnRequest {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly commit: boolean;
  /**
   * 2 for KIP-890's transactions v2 (EndTxn v5+): the end bumps the epoch and answers the producer
   * id and epoch of the next transaction. 1 (or absent) for the classic protocol (EndTxn v0-4).
   */
  readonly transactionVersion?: number;
}

/** KIP-890's verification of a transactional produce (AddPartitionsToTxn with verifyOnly). */
export interface VerifyPartitionsRequest {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly partitions: readonly TopicPartitions[];
}

export interface VerifiedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
}

export type TxnResponse =
  | {
      readonly api: 'InitProducerId';
      readonly errorCode: number;
      readonly producerId: number;
      readonly producerEpoch: number;
    }
  | { readonly api: 'AddPartitionsToTxn'; readonly errorCode: number }
  | { readonly api: 'AddOffsetsToTxn'; readonly errorCode: number }
  | {
      readonly api: 'EndTxn';
      readonly errorCode: number;
      /** Transactions v2: the producer id and epoch of the next transaction; -1 otherwise. */
      readonly producerId: number;
      readonly producerEpoch: number;
    };

/** Write these markers to the leaders of `partitions`, retrying until each is written or gone. */
export interface WriteMarkersEffect {
  readonly kind: 'writeMarkers';
  readonly token: MarkerToken;
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly commit: boolean;
  /** The leader epoch of the `__transaction_state` partition that coordinates the transaction. */
  readonly coordinatorEpoch: number;
  readonly partitions: readonly TopicPartitions[];
}

export type TxnEffect =
  | { readonly kind: 'respond'; readonly requestId: RequestId; readonly response: TxnResponse }
  | {
      readonly kind: 'append';
      readonly partitionIndex: number;
      readonly token: AppendToken;
      readonly records: readonly TransactionLogRecord[];
    }
  | WriteMarkersEffect;
