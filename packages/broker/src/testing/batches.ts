// Record batches for tests, built with the protocol's real encoder.

import { CompressionType, encodeRecordBatch } from '@gregor/protocol';

export interface TestBatchOptions {
  readonly timestampMs?: number;
  /** Each record's own timestamp, in place of timestampMs + index. */
  readonly timestampsMs?: readonly number[];
  readonly compression?: CompressionType;
}

/** One RecordBatch v2 holding `values` (keys null), as a producer sends it: base offset 0, epoch -1. */
export function batchOf(values: readonly string[], options: TestBatchOptions = {}): Buffer {
  const timestampMs = options.timestampMs ?? 1_600_000_000_000;
  return encodeRecordBatch({
    partitionLeaderEpoch: -1,
    compression: options.compression ?? CompressionType.None,
    records: values.map((value, index) => ({
      key: null,
      value: Buffer.from(value),
      timestamp: options.timestampsMs?.[index] ?? timestampMs + index,
    })),
  });
}

/** A request frame header by hand, for versions and keys encodeRequest refuses to write. */
export function rawRequestFrame(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  rest = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(-1, 8); // null client id
  return Buffer.concat([header, rest]);
}
