import { describe, expect, it } from 'vitest';
import {
  ControlRecordType,
  encodeTransactionMarkerBatch,
  isCommitMarkerBatch,
  markerBatchCoordinatorEpoch,
} from './control-records.js';
import { decodeRecordBatch } from './record-batch.js';

describe('transaction marker batches', () => {
  it('carry the producer, the control and transactional bits, and the marker type and epoch', () => {
    const batch = encodeTransactionMarkerBatch(
      { producerId: 42, producerEpoch: 3, commit: true, coordinatorEpoch: 7 },
      1_700_000_000_000,
    );
    const decoded = decodeRecordBatch(batch, 0);
    expect(decoded.header.isControl).toBe(true);
    expect(decoded.header.isTransactional).toBe(true);
    expect(decoded.header.producerId).toBe(42);
    expect(decoded.header.producerEpoch).toBe(3);
    expect(decoded.header.baseSequence).toBe(-1);
    expect(decoded.records).toHaveLength(1);
    // Bytes as Kafka's EndTransactionMarker writes them.
    expect(decoded.records[0]!.key).toEqual(Buffer.from([0, 0, 0, ControlRecordType.commit]));
    expect(decoded.records[0]!.value).toEqual(Buffer.from([0, 0, 0, 0, 0, 7]));
    expect(isCommitMarkerBatch(batch)).toBe(true);
    expect(markerBatchCoordinatorEpoch(batch)).toBe(7);
  });

  it('tell an abort from a commit', () => {
    const batch = encodeTransactionMarkerBatch(
      { producerId: 1, producerEpoch: 0, commit: false, coordinatorEpoch: 0 },
      0,
    );
    expect(isCommitMarkerBatch(batch)).toBe(false);
  });
});
