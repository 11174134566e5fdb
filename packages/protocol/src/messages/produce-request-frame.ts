// A Produce request frame (versions 3-8, request header v1) as a list of buffers whose record
// batches are the caller's own buffers, not copies: a producer writes them with one writev, and its
// records are copied once (into their batch) instead of twice (into their batch, then into the frame).
//
//   size: int32                     bytes after this field
//   header v1 => api_key: int16 api_version: int16 correlation_id: int32 client_id: nullable string
//   Produce v3-8 => transactional_id: nullable string acks: int16 timeout_ms: int32
//                   [topics => name: string [partitions => partition_index: int32 records: nullable bytes]]
// (arrays: int32 count; strings: int16 length + UTF-8, -1 for null; bytes: int32 length, -1 for null)
//
// The bytes are those encodeRequest(ApiKey.Produce, version, ...) gives with sizePrefix (a test
// checks them against it); v9+ are flexible (compact fields, tagged fields) and not written here.

import { Writer } from '../writer.js';
import { ApiKey } from './api-keys.js';
import type { RequestInput } from './registry.js';

export const produceFrameSegmentsVersionMin = 3;
export const produceFrameSegmentsVersionMax = 8;
/** Record batches shorter than this are copied into the frame's own bytes: a write per tiny batch costs more. */
const referencedBatchBytesMin = 4096;

/** Whether produceRequestFrameSegments writes this version. */
export function producesFrameSegments(apiVersion: number): boolean {
  return apiVersion >= produceFrameSegmentsVersionMin && apiVersion <= produceFrameSegmentsVersionMax;
}

/**
 * The frame of a Produce request (size prefix included) as buffers to write in order; record batches
 * of at least referencedBatchBytesMin bytes are the body's own buffers. Throws on a version it does
 * not write (see producesFrameSegments).
 */
export function produceRequestFrameSegments(
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: RequestInput<typeof ApiKey.Produce>,
): Buffer[] {
  if (!producesFrameSegments(apiVersion)) {
    throw new Error(`Produce v${apiVersion} is not written as segments (only v3-v8)`);
  }
  // The frame's own bytes (all but the referenced batches) go into one writer; `cuts` marks where
  // in it each referenced batch goes.
  const writer = new Writer(256);
  const sizePosition = writer.reserve(4);
  writer.int16(ApiKey.Produce).int16(apiVersion).int32(correlationId).string(clientId);
  writer
    .string(body.transactionalId ?? null)
    .int16(body.acks)
    .int32(body.timeoutMs);
  const cuts: number[] = [];
  const referenced: Buffer[] = [];
  let referencedBytes = 0;
  writer.int32(body.topics.length);
  for (const topic of body.topics) {
    writer.string(topic.name).int32(topic.partitions.length);
    for (const partition of topic.partitions) {
      writer.int32(partition.partitionIndex);
      const records = partition.records;
      if (records === null || records === undefined) {
        writer.int32(-1);
      } else if (records.length < referencedBatchBytesMin) {
        writer.int32(records.length).raw(records);
      } else {
        writer.int32(records.length);
        cuts.push(writer.offset);
        referenced.push(records);
        referencedBytes += records.length;
      }
    }
  }
  writer.patchInt32(sizePosition, writer.offset - 4 + referencedBytes);
  const own = writer.view();
  const segments: Buffer[] = [];
  let from = 0;
  for (let index = 0; index < cuts.length; index++) {
    const cut = cuts[index]!;
    if (cut > from) segments.push(own.subarray(from, cut));
    segments.push(referenced[index]!);
    from = cut;
  }
  if (own.length > from) segments.push(own.subarray(from));
  return segments;
}
