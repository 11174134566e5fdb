// A Produce request frame (versions 3-13) as a list of buffers whose record batches are the
// caller's own buffers, not copies: a producer writes them with one writev, and its records are
// copied once (into their batch) instead of twice (into their batch, then into the frame).
//
//   size: int32                     bytes after this field
//   header v1 (v3-8) => api_key: int16 api_version: int16 correlation_id: int32 client_id: nullable string
//   header v2 (v9+)  => header v1 + tagged fields
//   Produce v3-8 => transactional_id: nullable string acks: int16 timeout_ms: int32
//                   [topics => name: string [partitions => partition_index: int32 records: nullable bytes]]
//   (arrays: int32 count; strings: int16 length + UTF-8, -1 for null; bytes: int32 length, -1 for null)
//   Produce v9-13 (flexible) => transactional_id: compact nullable string acks: int16 timeout_ms: int32
//                   [topics => name: compact string (9-12) | topic_id: uuid (13+)
//                     [partitions => partition_index: int32 records: compact nullable bytes
//                      tagged fields] tagged fields] tagged fields
//   (compact arrays, strings and bytes: unsigned varint length + 1, 0 for null; no tagged field is
//    written, so each tagged-field section is one 0 byte)
//
// The bytes are those encodeRequest(ApiKey.Produce, version, ...) gives with sizePrefix (a test
// checks them against it).

import { Writer } from '../writer.js';
import { ApiKey } from './api-keys.js';
import type { RequestInput } from './registry.js';
import { zeroUuid } from './schema.js';

export const produceFrameSegmentsVersionMin = 3;
export const produceFrameSegmentsVersionMax = 13;
const produceFlexibleVersionMin = 9;
const produceTopicIdVersionMin = 13;
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
    throw new Error(
      `Produce v${apiVersion} is not written as segments (only v${produceFrameSegmentsVersionMin}-v${produceFrameSegmentsVersionMax})`,
    );
  }
  const flexible = apiVersion >= produceFlexibleVersionMin;
  // The frame's own bytes (all but the referenced batches) go into one writer; `cuts` marks where
  // in it each referenced batch goes.
  const writer = new Writer(256);
  const count = (length: number) => (flexible ? writer.uvarint(length + 1) : writer.int32(length));
  const sizePosition = writer.reserve(4);
  writer.int16(ApiKey.Produce).int16(apiVersion).int32(correlationId).string(clientId);
  if (flexible) writer.taggedFields();
  const transactionalId = body.transactionalId ?? null;
  if (flexible) writer.compactString(transactionalId);
  else writer.string(transactionalId);
  writer.int16(body.acks).int32(body.timeoutMs);
  const cuts: number[] = [];
  const referenced: Buffer[] = [];
  let referencedBytes = 0;
  count(body.topics.length);
  for (const topic of body.topics) {
    if (apiVersion >= produceTopicIdVersionMin) writer.raw(topicIdBytes(topic.topicId ?? zeroUuid));
    else if (flexible) writer.compactString(topic.name ?? '');
    else writer.string(topic.name ?? '');
    count(topic.partitions.length);
    for (const partition of topic.partitions) {
      writer.int32(partition.partitionIndex);
      const records = partition.records;
      if (records === null || records === undefined) {
        if (flexible) writer.uvarint(0);
        else writer.int32(-1);
      } else {
        count(records.length);
        if (records.length < referencedBatchBytesMin) {
          writer.raw(records);
        } else {
          cuts.push(writer.offset);
          referenced.push(records);
          referencedBytes += records.length;
        }
      }
      if (flexible) writer.taggedFields();
    }
    if (flexible) writer.taggedFields();
  }
  if (flexible) writer.taggedFields();
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

function topicIdBytes(topicId: string): Buffer {
  if (!/^[0-9a-f]{32}$/.test(topicId))
    throw new Error(`topic id must be 32 lowercase hex digits: ${topicId}`);
  return Buffer.from(topicId, 'hex');
}
