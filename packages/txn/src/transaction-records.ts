// The records of the internal, compacted `__transaction_state` topic, byte for byte as Kafka writes
// them, so a Gregor coordinator can load a Kafka log and Kafka's tools can read Gregor's.
//   TransactionLogKey   v0 => transactional_id string
//   TransactionLogValue v0 => producer_id int64, producer_epoch int16, transaction_timeout_ms int32,
//                             transaction_status int8,
//                             [transaction_partitions => topic string, [partition_ids int32]] (nullable),
//                             transaction_last_update_timestamp_ms int64,
//                             transaction_start_timestamp_ms int64
//   TransactionLogValue v1 => the same fields, flexible: compact strings and arrays (length + 1 as an
//                             unsigned varint, 0 for null), a tagged-field section after each
//                             partitions entry and after the value. Tags, written only when not
//                             their default: 0 previous_producer_id int64 (-1), 1 next_producer_id
//                             int64 (-1), 2 client_transaction_version int16 (0); Gregor's own
//                             (gregorTags below) last_producer_epoch int16 (-1) and
//                             bumped_by_fence int8 (0).
// Both start with an int16 version. A null value (tombstone) removes the transactional id. Gregor
// writes v1 (as Kafka 4 does once transaction.version >= 1) and reads v0 and v1.
// Specs: apache/kafka transaction-coordinator/src/main/resources/common/message/TransactionLogKey.json,
// TransactionLogValue.json; the status bytes are TransactionState.java's ids; KAFKA-20310 (Kafka
// writes tags 0 and 1 from 4.x on, so a coordinator that loads the log sees them).

import { invariant } from '@gregor/ground';
import { DecodeError, Reader, Writer } from '@gregor/protocol';

export const transactionLogKeyVersion = 0;
/** The version Gregor writes; v0 is still read. */
export const transactionLogValueVersion = 1;
const transactionLogValueVersionMin = 0;

/** Kafka's tags of TransactionLogValue v1. */
export const kafkaTags = {
  previousProducerId: 0,
  nextProducerId: 1,
  clientTransactionVersion: 2,
} as const;

/**
 * Gregor's own tags of TransactionLogValue v1: what Gregor's coordinator keeps beyond Kafka's
 * fields, so a coordinator that loads the log answers as the one that wrote it. Kafka's reader keeps
 * tags it does not know aside (unknownTaggedFields) and ignores them; its own tags are numbered from
 * 0 up (a newer Kafka may add 3 for KIP-939), so these sit far above.
 */
export const gregorTags = {
  /** The epoch before the last bump that a retry may name (Kafka's lastProducerEpoch, not stored by Kafka). */
  lastProducerEpoch: 10_000,
  /** The last bump fenced the producer (a timeout or a new InitProducerId): 1, else absent. */
  bumpedByFence: 10_001,
} as const;

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
  /** Transactions v2: the producer id before the last move to a new one; -1 when none (tag 0). */
  readonly previousProducerId: number;
  /** Transactions v2: the producer id the id moves to once this transaction completes; -1 (tag 1). */
  readonly nextProducerId: number;
  /** The transaction version of the client that made the last transition: 0 unknown, 1, 2 (tag 2). */
  readonly clientTransactionVersion: number;
  /** Gregor's: the epoch before the last bump that a retry may name; -1 when none. */
  readonly lastProducerEpoch: number;
  /** Gregor's: the last bump fenced the producer, so the epoch before it is no retry. */
  readonly bumpedByFence: boolean;
}

/** What a v0 record (and a v1 record without the tag) means for the fields v0 lacks. */
export const transactionLogValueDefaults = {
  previousProducerId: -1,
  nextProducerId: -1,
  clientTransactionVersion: 0,
  lastProducerEpoch: -1,
  bumpedByFence: false,
} as const;

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

/** Version 1 unless `version` says 0 (Kafka's layout before transaction.version 1, for tests and tools). */
export function encodeTransactionLogValue(
  value: TransactionLogValue,
  version: 0 | 1 = transactionLogValueVersion,
): Buffer {
  invariant(value.state in transactionStateNames, () => `transaction state ${value.state}`);
  const flexible = version >= 1;
  const writer = new Writer(64)
    .int16(version)
    .int64Number(value.producerId)
    .int16(value.producerEpoch)
    .int32(value.transactionTimeoutMs)
    .int8(value.state);
  // Kafka writes no partitions (null) for a transaction without any.
  const partitions = value.partitions.length === 0 ? null : value.partitions;
  if (flexible) {
    writer.compactArray(partitions, (entry, { topic, partitions: ids }) => {
      entry.compactString(topic).compactArray(ids, (item, id) => item.int32(id));
      entry.taggedFields();
    });
  } else {
    writer.array(partitions, (entry, { topic, partitions: ids }) => {
      entry.string(topic).array(ids, (item, id) => item.int32(id));
    });
  }
  writer.int64Number(value.lastUpdateTimestampMs).int64Number(value.startTimestampMs);
  if (flexible) writer.taggedFields(taggedFieldsOf(value));
  return writer.toBuffer();
}

function taggedFieldsOf(value: TransactionLogValue): Map<number, Uint8Array> {
  const fields = new Map<number, Uint8Array>();
  const defaults = transactionLogValueDefaults;
  if (value.previousProducerId !== defaults.previousProducerId) {
    fields.set(kafkaTags.previousProducerId, new Writer(8).int64Number(value.previousProducerId).toBuffer());
  }
  if (value.nextProducerId !== defaults.nextProducerId) {
    fields.set(kafkaTags.nextProducerId, new Writer(8).int64Number(value.nextProducerId).toBuffer());
  }
  if (value.clientTransactionVersion !== defaults.clientTransactionVersion) {
    fields.set(
      kafkaTags.clientTransactionVersion,
      new Writer(2).int16(value.clientTransactionVersion).toBuffer(),
    );
  }
  if (value.lastProducerEpoch !== defaults.lastProducerEpoch) {
    fields.set(gregorTags.lastProducerEpoch, new Writer(2).int16(value.lastProducerEpoch).toBuffer());
  }
  if (value.bumpedByFence) fields.set(gregorTags.bumpedByFence, Buffer.from([1]));
  return fields;
}

export function decodeTransactionLogValue(bytes: Buffer): TransactionLogValue {
  const reader = new Reader(bytes);
  const version = reader.int16();
  if (version < transactionLogValueVersionMin || version > transactionLogValueVersion) {
    throw new DecodeError(`transaction log value version ${version} is unknown`);
  }
  const flexible = version >= 1;
  const producerId = reader.int64Number();
  const producerEpoch = reader.int16();
  const transactionTimeoutMs = reader.int32();
  const state = reader.int8();
  if (!(state in transactionStateNames)) throw new DecodeError(`transaction status ${state} is unknown`);
  const readPartitions = (entry: Reader): TopicPartitions => {
    const topic = flexible ? entry.compactString() : entry.string();
    const ids = flexible ? entry.compactArray((item) => item.int32()) : entry.array((item) => item.int32());
    if (flexible) entry.taggedFields();
    return { topic, partitions: ids };
  };
  const partitions =
    (flexible ? reader.compactNullableArray(readPartitions) : reader.nullableArray(readPartitions)) ?? [];
  const lastUpdateTimestampMs = reader.int64Number();
  const startTimestampMs = reader.int64Number();
  const tags = flexible ? reader.taggedFields() : new Map<number, Buffer>();
  return {
    producerId,
    producerEpoch,
    transactionTimeoutMs,
    state: state as TransactionStateId,
    partitions,
    lastUpdateTimestampMs,
    startTimestampMs,
    previousProducerId: tagged(tags, kafkaTags.previousProducerId, 8, (r) => r.int64Number()) ?? -1,
    nextProducerId: tagged(tags, kafkaTags.nextProducerId, 8, (r) => r.int64Number()) ?? -1,
    clientTransactionVersion: tagged(tags, kafkaTags.clientTransactionVersion, 2, (r) => r.int16()) ?? 0,
    lastProducerEpoch: tagged(tags, gregorTags.lastProducerEpoch, 2, (r) => r.int16()) ?? -1,
    bumpedByFence: (tagged(tags, gregorTags.bumpedByFence, 1, (r) => r.int8()) ?? 0) !== 0,
  };
}

/** A known tag's value; a tag of the wrong size is a torn or foreign record. Unknown tags are ignored. */
function tagged<T>(
  tags: ReadonlyMap<number, Buffer>,
  tag: number,
  sizeBytes: number,
  read: (reader: Reader) => T,
): T | undefined {
  const data = tags.get(tag);
  if (data === undefined) return undefined;
  if (data.length !== sizeBytes)
    throw new DecodeError(`tag ${tag} has ${data.length} byte(s), not ${sizeBytes}`);
  return read(new Reader(data));
}
