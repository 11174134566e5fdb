// Turns one partition of a Fetch response into the records a consumer hands on: batches decoded,
// records before the fetch offset dropped (a compressed batch starts before it), control batches
// skipped, and under read_committed the records of aborted transactions left out.

import { BatchField, batchEnd, iterateBatches, type RecordHeader, TimestampType } from '@gregor/protocol';

export interface FetchedMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  /** The batch's timestamp type: when LogAppendTime, `timestamp` is the broker's append time. */
  readonly timestampType: 'CreateTime' | 'LogAppendTime';
  readonly attributes: number;
  readonly offset: string;
  readonly headers: Record<string, Buffer | Buffer[]>;
  readonly size: number;
}

function headersObject(headers: readonly RecordHeader[]): Record<string, Buffer | Buffer[]> {
  const out: Record<string, Buffer | Buffer[]> = {};
  for (const header of headers) {
    const value = header.value ?? Buffer.alloc(0);
    const previous = out[header.key];
    if (previous === undefined) out[header.key] = value;
    else out[header.key] = Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return out;
}

/** The abort marker's control key: version int16, type int16 (0 abort, 1 commit). */
function isAbortMarker(key: Buffer | null): boolean {
  return key !== null && key.length >= 4 && key.readInt16BE(2) === 0;
}

export interface FetchedRecords {
  readonly messages: FetchedMessage[];
  /** Where the next fetch starts: past the last batch read, control and aborted ones included. */
  readonly nextOffset: bigint;
  /**
   * Where the records read start, control and aborted ones included (the first batch's base offset,
   * or the fetch offset inside it); null when nothing was read. With no messages but a nextOffset
   * past the fetch offset, the records from here to nextOffset - 1 were all left out.
   */
  readonly firstOffset: bigint | null;
}

export function fetchedRecords(
  records: Buffer | null,
  fetchOffset: bigint,
  abortedTransactions: readonly { producerId: bigint; firstOffset: bigint }[] | null,
): FetchedRecords {
  const messages: FetchedMessage[] = [];
  let nextOffset = fetchOffset;
  let firstOffset: bigint | null = null;
  if (records === null || records.length === 0) return { messages, nextOffset, firstOffset };
  const pendingAborts = [...(abortedTransactions ?? [])].sort((a, b) =>
    Number(a.firstOffset - b.firstOffset),
  );
  const aborting = new Set<bigint>();
  for (const batch of iterateBatches(records)) {
    const { header } = batch;
    const lastOffset = BigInt(header.lastOffset);
    while (pendingAborts.length > 0 && pendingAborts[0]!.firstOffset <= lastOffset) {
      aborting.add(pendingAborts.shift()!.producerId);
    }
    if (lastOffset >= nextOffset) nextOffset = lastOffset + 1n;
    if (firstOffset === null && lastOffset >= fetchOffset) {
      const baseOffset = BigInt(header.baseOffset);
      firstOffset = baseOffset > fetchOffset ? baseOffset : fetchOffset;
    }
    const producerId = BigInt(header.producerId);
    if (header.isControl) {
      if (isAbortMarker(batch.records[0]?.key ?? null)) aborting.delete(producerId);
      continue;
    }
    if (header.isTransactional && aborting.has(producerId)) continue;
    for (const record of batch.records) {
      if (BigInt(record.offset) < fetchOffset) continue;
      messages.push({
        key: record.key,
        value: record.value,
        timestamp: String(record.timestamp),
        timestampType: header.timestampType === TimestampType.LogAppendTime ? 'LogAppendTime' : 'CreateTime',
        attributes: record.attributes,
        offset: String(record.offset),
        headers: headersObject(record.headers),
        size: (record.key?.length ?? 0) + (record.value?.length ?? 0),
      });
    }
  }
  return { messages, nextOffset, firstOffset };
}

/**
 * Where fetchedRecords() will say the next fetch starts (past the last whole batch), read from the
 * batches' headers alone: no CRC check, no record decoded. What a prefetch asks for; if the batches
 * turn out corrupt when they are read, the prefetch's offset no longer matches and it is dropped.
 */
export function nextFetchOffset(records: Buffer | null, fetchOffset: bigint): bigint {
  let nextOffset = fetchOffset;
  if (records === null) return nextOffset;
  let position = 0;
  while (position < records.length) {
    const end = batchEnd(records, position);
    if (end < 0) break;
    const lastOffset =
      records.readBigInt64BE(position + BatchField.baseOffset) +
      BigInt(records.readInt32BE(position + BatchField.lastOffsetDelta));
    if (lastOffset >= nextOffset) nextOffset = lastOffset + 1n;
    position = end;
  }
  return nextOffset;
}
