// KIP-890 on the leader (Kafka's ReplicaManager.appendRecords with its
// AddPartitionsToTxnManager): before a transactional producer's first batch on a partition is
// appended, the transaction coordinator of its transactional id is asked whether the partition is in
// the producer's ongoing transaction. The coordinator's answers become the errors Kafka's producers
// expect on Produce: not in the transaction → TRANSACTION_ABORTABLE for a client that declared it
// knows that code (Produce v11+, KIP-890: the transaction must be aborted, the producer goes on),
// INVALID_TXN_STATE for older ones (Kafka's AddPartitionsToTxnManager maps it so "for backward
// compatibility with clients"); the coordinator busy, moving or unreachable → NOT_ENOUGH_REPLICAS
// (retriable: the producer sends the batch again and the leader asks again); a fenced epoch →
// INVALID_PRODUCER_EPOCH.

import { ErrorCode, errorName } from '@gregor/protocol';

/** One question to the coordinator: is `topic`-`partition` in this producer's ongoing transaction? */
export interface TransactionVerificationRequest {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly topic: string;
  readonly partition: number;
  /**
   * KIP-890 part 2 (transactions v2: Produce v12+, TxnOffsetCommit v5+): the coordinator adds the
   * partition to the ongoing transaction (starting one if none is), as Kafka's AddPartitionsToTxn
   * with verifyOnly=false, instead of only checking it is there.
   */
  readonly addToTransaction?: boolean;
}

/**
 * Asks the coordinator of `transactionalId` (this broker's or another's over gRPC). Resolves with
 * the coordinator's error code for the partition (NONE: it is in the transaction); a transport
 * failure resolves NETWORK_EXCEPTION, never rejects.
 */
export interface TransactionVerifier {
  verify(request: TransactionVerificationRequest): Promise<number>;
}

/** Produce v11+: the client knows TRANSACTION_ABORTABLE (KIP-890; Kafka's GENERIC_ERROR_SUPPORTED). */
export const produceTransactionAbortableVersion = 11;

/**
 * What the producer is answered for a coordinator's refusal, with its message (Kafka 3.8+'s
 * ReplicaManager and AddPartitionsToTxnManager mappings). The coordinator's "not in the
 * transaction" is INVALID_TXN_STATE here (`@gregor/txn`'s verifyPartitions; Kafka's coordinator
 * says TRANSACTION_ABORTABLE and its leaders map it down): `transactionAbortable` says the client
 * knows the newer code.
 */
export function verificationErrorForProduce(
  coordinatorError: number,
  transactionAbortable: boolean,
): {
  errorCode: number;
  message: string;
} {
  switch (coordinatorError) {
    case ErrorCode.INVALID_TXN_STATE:
      return {
        errorCode: transactionAbortable ? ErrorCode.TRANSACTION_ABORTABLE : ErrorCode.INVALID_TXN_STATE,
        message: 'Partition was not added to the transaction',
      };
    case ErrorCode.PRODUCER_FENCED:
      return {
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: 'The producer epoch is older than the transaction coordinator knows',
      };
    case ErrorCode.CONCURRENT_TRANSACTIONS:
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.NOT_COORDINATOR:
    case ErrorCode.NETWORK_EXCEPTION:
    case ErrorCode.REQUEST_TIMED_OUT:
      return {
        errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
        message: `Unable to verify the partition has been added to the transaction. Underlying error: ${errorName(coordinatorError)}`,
      };
    default:
      return { errorCode: coordinatorError, message: 'Transaction verification failed' };
  }
}
