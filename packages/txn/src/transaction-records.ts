// The records of the internal, compacted `__transaction_state` topic, byte for byte as Kafka writes
// them, so a Gregor coordinator can load a Kafka log and Kafka's tools can read Gregor's.
//   TransactionLogKey   v0 => transactional_id string
//   TransactionLogValue v0 => producer_id int64, producer_epoch int16, transaction_timeout_ms int32,
//                             transaction_status int8,
//                             [transaction_partitions => topic string, [partition_ids int32]] (nullable),
//                             transaction_last_update_timestamp_ms int64,
//                             transaction_start_timestamp_ms int64
// Both start with an int16 version. A null value (tombstone) removes the transactional id.
// Specs: apache/kafka transaction-coordinator/src/main/resources/common/message/TransactionLogKey.json,
// TransactionLogValue.json; the status bytes are TransactionState.java's ids.

import { invariant } from '@gregor/ground';
import { DecodeError, Reader, Writer } from '@gregor/protocol';

export const transactionLogKeyVersion = 0;
export const transactionLogValueVersion = 0;

/** Kafka's TransactionState ids, as stored in `transaction_status`. */
export const TransactionState = {
  empty: 0,
  ongoing: 1,
  prepareCommit: 2,
  prepareAbort: 3,
  completeCommit: 4,
  completeAbort: 5,
  dead: 6,
  prepareEpochFence: 7,
} as const;
export type TransactionStateId = (typeof TransactionState)[keyof typeof TransactionState];

export const transactionStateNames: Record<TransactionStateId, string> = {
  0: 'Empty',
  1: 'Ongoing',
  2: 'PrepareCommit',
  3: 'PrepareAbort',
  4: 'CompleteCommit',
  5: 'CompleteAbort',
  6: 'Dead',
  7: 'PrepareEpochFence',
};

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface TransactionLogValue {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly transactionTimeoutMs: number;
  readonly state: TransactionStateId;
  /** The partitions of the ongoing (or preparing) transaction, by topic. */
  readonly partitions: readonly TopicPartitions[];
  readonly lastUpdateTimestampMs: number;
  /** -1 when no transaction has started. */
  readonly startTimestampMs: number;
}

export type TransactionLogRecord = readonly [key: Buffer, value: Buffer | null];

export function encodeTransactionLogKey(transactionalId: string): Buffer {
  return new Writer(4 + transactionalId.length * 3)
    .int16(transactionLogKeyVersion)
    .string(transactionalId)
    .toBuffer();
}

export function decodeTransactionLogKey(key: Buffer): string {
  const reader = new Reader(key);
  const version = reader.int16();
  if (version !== transactionLogKeyVersion) {
    throw new DecodeError(`transaction log key version ${version} is unknown`);
  }
  return reader.string();
}

export function encodeTransactionLogValue(value: TransactionLogValue): Buffer {
  invariant(value.state in transactionStateNames, () => `transaction state ${value.state}`);
  const writer = new Writer(64)
    .int16(transactionLogValueVersion)
    .int64Number(value.producerId)
    .int16(value.producerEpoch)
    .int32(value.transactionTimeoutMs)
    .int8(value.state);
  // Kafka writes no partitions (null) for a transaction without any.
  if (value.partitions.length === 0) {
    writer.int32(-1);
  } else {
    writer.int32(value.partitions.length);
    for (const { topic, partitions } of value.partitions) {
      writer.string(topic).int32(partitions.length);
      for (const partition of partitions) writer.int32(partition);
    }
  }
  return writer.int64Number(value.lastUpdateTimestampMs).int64Number(value.startTimestampMs).toBuffer();
}

export function decodeTransactionLogValue(bytes: Buffer): TransactionLogValue {
  const reader = new Reader(bytes);
  const version = reader.int16();
  // v1 (flexible) is written by Kafka 4 with transactions v2; Gregor writes and reads v0.
  if (version !== transactionLogValueVersion) {
    throw new DecodeError(`transaction log value version ${version} is unknown`);
  }
  const producerId = reader.int64Number();
  const producerEpoch = reader.int16();
  const transactionTimeoutMs = reader.int32();
  const state = reader.int8();
  if (!(state in transactionStateNames)) throw new DecodeError(`transaction status ${state} is unknown`);
  const topicCount = reader.int32();
  const partitions: TopicPartitions[] = [];
  for (let index = 0; index < topicCount; index++) {
    const topic = reader.string();
    const count = reader.int32();
    if (count < 0 || count > reader.remaining / 4) throw new DecodeError(`partition count ${count}`);
    const ids: number[] = [];
    for (let partition = 0; partition < count; partition++) ids.push(reader.int32());
    partitions.push({ topic, partitions: ids });
  }
  const lastUpdateTimestampMs = reader.int64Number();
  const startTimestampMs = reader.int64Number();
  return {
    producerId,
    producerEpoch,
    transactionTimeoutMs,
    state: state as TransactionStateId,
    partitions,
    lastUpdateTimestampMs,
    startTimestampMs,
  };
}
