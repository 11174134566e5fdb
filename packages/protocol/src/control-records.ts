// Control records: the transaction markers a transaction coordinator has written to every partition
// of a transaction. A control batch (attributes: transactional and control bits) carries the
// producer id and epoch of the transaction and exactly one record:
//   key   => version int16 (0) | type int16 (0 abort, 1 commit)
//   value => version int16 (0) | coordinator_epoch int32
// Spec: apache/kafka ControlRecordType.java, EndTransactionMarker.java.

import { DecodeError, Reader } from './reader.js';
import { decodeRecordBatch, encodeRecordBatch } from './record-batch.js';
import { noSequence } from './record-batch-header.js';
import { Writer } from './writer.js';

export const ControlRecordType = { abort: 0, commit: 1 } as const;
export type ControlRecordTypeId = (typeof ControlRecordType)[keyof typeof ControlRecordType];

const controlKeyVersion = 0;
const endTxnMarkerValueVersion = 0;

export interface TransactionMarker {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly commit: boolean;
  readonly coordinatorEpoch: number;
}

/** One control batch holding `marker`, offsets and leader epoch left for the log to assign. */
export function encodeTransactionMarkerBatch(marker: TransactionMarker, timestampMs: number): Buffer {
  const key = new Writer(4)
    .int16(controlKeyVersion)
    .int16(marker.commit ? ControlRecordType.commit : ControlRecordType.abort)
    .toBuffer();
  const value = new Writer(6).int16(endTxnMarkerValueVersion).int32(marker.coordinatorEpoch).toBuffer();
  return encodeRecordBatch({
    records: [{ key, value, timestamp: timestampMs }],
    producerId: marker.producerId,
    producerEpoch: marker.producerEpoch,
    baseSequence: noSequence,
    isTransactional: true,
    isControl: true,
  });
}

/** The type of a control record from its key; DecodeError when the key is not one. */
export function controlRecordType(key: Buffer | null): number {
  if (key === null || key.length < 4) throw new DecodeError('control record without a 4-byte key');
  const reader = new Reader(key);
  reader.int16();
  return reader.int16();
}

/** Whether the control batch at `position` of `records` is a commit marker (else an abort). */
export function isCommitMarkerBatch(records: Buffer, position = 0): boolean {
  const batch = decodeRecordBatch(records, position, { verifyCrc: false });
  const first = batch.records[0];
  if (first === undefined) throw new DecodeError('control batch without a record');
  return controlRecordType(first.key) === ControlRecordType.commit;
}

/**
 * The coordinator epoch in the marker of the control batch at `position` (its record's value:
 * version int16, coordinator_epoch int32); -1 when the record has no such value.
 */
export function markerBatchCoordinatorEpoch(records: Buffer, position = 0): number {
  const batch = decodeRecordBatch(records, position, { verifyCrc: false });
  const value = batch.records[0]?.value;
  if (value === null || value === undefined || value.length < 6) return -1;
  const reader = new Reader(value);
  reader.int16();
  return reader.int32();
}
