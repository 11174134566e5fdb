// PRODUCER_FENCED (KIP-588) reaches only clients that know it: the versions before KIP-588's bumps
// (InitProducerId < 4, AddPartitionsToTxn/AddOffsetsToTxn/EndTxn < 2, TxnOffsetCommit < 3) get
// INVALID_PRODUCER_EPOCH, as Kafka answers them.

import { ErrorCode } from '@gregor/protocol';

export function producerFencedFor(
  errorCode: number,
  apiVersion: number,
  firstVersionKnowingIt: number,
): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && apiVersion < firstVersionKnowingIt
    ? ErrorCode.INVALID_PRODUCER_EPOCH
    : errorCode;
}
