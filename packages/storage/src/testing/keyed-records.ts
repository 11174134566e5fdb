// Real keyed RecordBatch v2 bytes (the cleaner decodes records, unlike the rest of storage) and a
// reader that decodes a whole log back into records, for the cleaner's tests.

import {
  type BatchHeader,
  CompressionType,
  ErrorCode,
  encodeRecordBatch,
  iterateBatches,
} from '@gregor/protocol';
import type { PartitionLog } from '../partition-log.js';

export interface TestRecord {
  /** null: a keyless record. */
  readonly key: string | null;
  /** null: a tombstone. */
  readonly value: string | null;
  readonly timestamp: number;
}

export interface TestBatchOptions {
  readonly compression?: CompressionType;
  readonly producerId?: number;
  readonly baseSequence?: number;
}

export function keyedBatch(records: readonly TestRecord[], options: TestBatchOptions = {}): Buffer {
  return encodeRecordBatch({
    records: records.map((r) => ({
      key: r.key === null ? null : Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      timestamp: r.timestamp,
      headers: [{ key: 'h', value: Buffer.from(`hdr-${r.key ?? ''}`) }],
    })),
    compression: options.compression ?? CompressionType.None,
    ...(options.producerId === undefined
      ? {}
      : { producerId: options.producerId, producerEpoch: 0, baseSequence: options.baseSequence ?? 0 }),
  });
}

export interface ReadRecord {
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly timestamp: number;
  readonly header: string | undefined;
}

export interface LogContents {
  readonly records: ReadRecord[];
  readonly batches: BatchHeader[];
}

/** Every record and batch header from the log start to the log end, through `read`. */
export async function readWholeLog(log: PartitionLog): Promise<LogContents> {
  const records: ReadRecord[] = [];
  const batches: BatchHeader[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const result = await log.read(offset, 1024 * 1024);
    if (result.errorCode !== ErrorCode.NONE) throw new Error(`read at ${offset}: error ${result.errorCode}`);
    if (result.records.length === 0) throw new Error(`read at ${offset} returned nothing`);
    for (const batch of iterateBatches(result.records)) {
      batches.push(batch.header);
      for (const r of batch.records) {
        records.push({
          offset: r.offset,
          key: r.key === null ? null : r.key.toString(),
          value: r.value === null ? null : r.value.toString(),
          timestamp: r.timestamp,
          header: r.headers[0]?.value?.toString(),
        });
      }
      offset = batch.header.lastOffset + 1;
    }
  }
  return { records, batches };
}
