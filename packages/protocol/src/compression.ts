// Record batch compression codecs (the batch attributes' bits 0-2): none, gzip, snappy, lz4, zstd.
//
// The native codec libraries are loaded on first use, not at import: a machine where one of them
// failed to install can still run everything that does not touch that codec, and a batch using it
// is refused with UNSUPPORTED_COMPRESSION_TYPE (what Kafka answers for a codec it cannot handle).
//
// Every decompressor is bounded by `decompressedBytesMax` so that a small forged batch cannot make
// the broker or a tool allocate gigabytes (a "decompression bomb"). Where the format declares sizes
// up front (snappy, lz4 blocks, zstd frame headers) the bound is checked before any allocation.

import { createRequire } from 'node:module';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ErrorCode, KafkaError } from './errors.js';
import { CompressionType, compressionNames } from './record-batch-header.js';

/**
 * The most bytes one compressed batch may expand to. Kafka's default `message.max.bytes` is 1 MiB of
 * compressed data; 128 MiB leaves room for very compressible payloads and large configured limits
 * while keeping one hostile batch from exhausting the heap.
 */
export const decompressedBytesMax = 128 * 1024 * 1024;

type SnappyModule = typeof import('snappy');
type Lz4Module = typeof import('lz4-napi');
type ZstdModule = typeof import('zstd-napi');
type ZstdBindingModule = typeof import('zstd-napi/binding.js');

const requireNative = createRequire(import.meta.url);

/** A native module loaded once on first use; a load failure is remembered and reported at every use. */
export function lazyNative<T>(moduleName: string, codec: CompressionType): () => T {
  let loaded: { ok: true; value: T } | { ok: false; reason: string } | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        loaded = { ok: true, value: requireNative(moduleName) as T };
      } catch (error) {
        loaded = { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    }
    if (!loaded.ok) {
      throw new KafkaError(
        ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
        `${compressionNames[codec]} codec unavailable: cannot load ${moduleName} (${loaded.reason})`,
      );
    }
    return loaded.value;
  };
}

const loadSnappy = lazyNative<SnappyModule>('snappy', CompressionType.Snappy);
const loadLz4 = lazyNative<Lz4Module>('lz4-napi', CompressionType.Lz4);
const loadZstd = lazyNative<ZstdModule>('zstd-napi', CompressionType.Zstd);
const loadZstdBinding = lazyNative<ZstdBindingModule>('zstd-napi/binding', CompressionType.Zstd);

function corrupt(codec: CompressionType, detail: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, `${compressionNames[codec]} payload: ${detail}`);
}

function tooLarge(codec: CompressionType, sizeBytes: number | string, maxBytes: number): KafkaError {
  return corrupt(codec, `decompresses to ${sizeBytes} byte(s), above the limit of ${maxBytes}`);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Compresses a batch's records section with the given codec. */
export function compress(type: CompressionType, data: Buffer): Buffer {
  switch (type) {
    case CompressionType.None:
      return data;
    case CompressionType.Gzip:
      return gzipSync(data);
    case CompressionType.Snappy:
      return snappyXerialCompress(data);
    case CompressionType.Lz4:
      // lz4_flex's defaults are what Kafka's Java Lz4BlockOutputStream writes and requires on read:
      // frame version 01, independent blocks, 64 KiB block maximum, no checksums, no content size.
      return loadLz4().compressFrameSync(data);
    case CompressionType.Zstd:
      return loadZstd().compress(data);
    default:
      throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${type}`);
  }
}

/**
 * Decompresses a batch's records section. Malformed input throws KafkaError(CORRUPT_MESSAGE), output
 * above `maxBytes` too; a codec whose library is missing throws UNSUPPORTED_COMPRESSION_TYPE.
 */
export function decompress(type: CompressionType, data: Buffer, maxBytes = decompressedBytesMax): Buffer {
  switch (type) {
    case CompressionType.None:
      if (data.length > maxBytes) throw tooLarge(type, data.length, maxBytes);
      return data;
    case CompressionType.Gzip:
      return gzipDecompress(data, maxBytes);
    case CompressionType.Snappy:
      return snappyDecompress(data, maxBytes);
    case CompressionType.Lz4:
      return lz4Decompress(data, maxBytes);
    case CompressionType.Zstd:
      return zstdDecompress(data, maxBytes);
    default:
      throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${type}`);
  }
}

// ---- gzip ----------------------------------------------------------------------------------------

function gzipDecompress(data: Buffer, maxBytes: number): Buffer {
  try {
    // Node's gunzip handles concatenated members, as Java's GZIPInputStream does.
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(CompressionType.Gzip, `more than ${maxBytes}`, maxBytes);
    }
    throw corrupt(CompressionType.Gzip, describe(error));
  }
}

// ---- snappy --------------------------------------------------------------------------------------
// Two framings reach a broker: the Java client writes snappy-java's "xerial" stream (a 16-byte header,
// then [int32 length][raw snappy block] chunks), librdkafka and kafkajs may send one raw snappy block.
// We accept both, and write xerial: every Kafka consumer reads it (snappy-java's SnappyInputStream,
// librdkafka, kafkajs, kafka-python all detect the header), whereas consumers built on old snappy-java
// versions read only the xerial stream.

/** `\x82SNAPPY\x00`, then int32 version 1 and int32 minimum compatible version 1. */
export const xerialHeader = Buffer.from([
  0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1,
]);
const xerialMagicBytes = 8;
/** snappy-java's default SnappyOutputStream block size, which Kafka's Java producer uses. */
const xerialChunkBytes = 32 * 1024;

function snappyXerialCompress(data: Buffer): Buffer {
  const snappy = loadSnappy();
  const parts: Buffer[] = [xerialHeader];
  // Empty input still gets one (empty) chunk: kafka-python takes a bare 16-byte header for raw snappy.
  for (let start = 0; start === 0 || start < data.length; start += xerialChunkBytes) {
    const block = snappy.compressSync(data.subarray(start, start + xerialChunkBytes));
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

function isXerial(data: Buffer): boolean {
  return (
    data.length >= xerialHeader.length &&
    data.subarray(0, xerialMagicBytes).equals(xerialHeader.subarray(0, xerialMagicBytes))
  );
}

/** The uncompressed length a raw snappy block declares in its leading varint (up to 32 bits). */
function snappyDeclaredLength(block: Buffer): number {
  let result = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const byte = block[i]!;
    result += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return result;
  }
  throw corrupt(CompressionType.Snappy, 'raw block has no valid length varint');
}

function snappyRawBlock(block: Buffer, maxBytes: number): Buffer {
  const declaredBytes = snappyDeclaredLength(block);
  if (declaredBytes > maxBytes) throw tooLarge(CompressionType.Snappy, declaredBytes, maxBytes);
  const snappy = loadSnappy();
  try {
    return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (error) {
    throw corrupt(CompressionType.Snappy, describe(error));
  }
}

function snappyDecompress(data: Buffer, maxBytes: number): Buffer {
  if (!isXerial(data)) return snappyRawBlock(data, maxBytes);
  const parts: Buffer[] = [];
  let totalBytes = 0;
  let position = xerialHeader.length;
  while (position < data.length) {
    if (data.length - position < 4)
      throw corrupt(CompressionType.Snappy, `torn xerial chunk length at ${position}`);
    const chunkBytes = data.readInt32BE(position);
    position += 4;
    if (chunkBytes < 0 || chunkBytes > data.length - position) {
      throw corrupt(CompressionType.Snappy, `xerial chunk of ${chunkBytes} byte(s) overruns the payload`);
    }
    const chunk = snappyRawBlock(data.subarray(position, position + chunkBytes), maxBytes - totalBytes);
    position += chunkBytes;
    totalBytes += chunk.length;
    parts.push(chunk);
  }
  return Buffer.concat(parts, totalBytes);
}

// ---- lz4 -----------------------------------------------------------------------------------------
// Kafka uses the standard LZ4 frame format (magic 0x184D2204). Before handing a frame to lz4-napi we
// walk its block headers: each block expands to at most the frame's declared block maximum, which
// bounds the output without decompressing anything.

export const lz4FrameMagic = 0x184d2204;
const lz4SkippableMagicMask = 0xfffffff0;
const lz4SkippableMagic = 0x184d2a50;
const lz4BlockMaxBytesByCode: Readonly<Record<number, number>> = {
  4: 64 * 1024,
  5: 256 * 1024,
  6: 1024 * 1024,
  7: 4 * 1024 * 1024,
};

/** An upper bound on the decompressed size of a sequence of LZ4 frames; throws on malformed framing. */
export function lz4DecompressedBytesBound(data: Buffer): number {
  const fail = (detail: string) => corrupt(CompressionType.Lz4, detail);
  let position = 0;
  let boundBytes = 0;
  if (data.length === 0) throw fail('empty payload');
  while (position < data.length) {
    if (data.length - position < 4) throw fail(`torn frame magic at ${position}`);
    const magic = data.readUInt32LE(position);
    if ((magic & lz4SkippableMagicMask) >>> 0 === lz4SkippableMagic) {
      if (data.length - position < 8) throw fail(`torn skippable frame at ${position}`);
      position += 8 + data.readUInt32LE(position + 4);
      continue;
    }
    if (magic !== lz4FrameMagic) throw fail(`bad frame magic 0x${magic.toString(16)} at ${position}`);
    if (data.length - position < 7) throw fail('torn frame descriptor');
    const flags = data[position + 4]!;
    const blockDescriptor = data[position + 5]!;
    if (flags >> 6 !== 1) throw fail(`unsupported frame version ${flags >> 6}`);
    const hasBlockChecksum = (flags & 0x10) !== 0;
    const hasContentSize = (flags & 0x08) !== 0;
    const hasContentChecksum = (flags & 0x04) !== 0;
    const hasDictionaryId = (flags & 0x01) !== 0;
    const blockMaxBytes = lz4BlockMaxBytesByCode[(blockDescriptor >> 4) & 0x07];
    if (blockMaxBytes === undefined)
      throw fail(`invalid block maximum size code in 0x${blockDescriptor.toString(16)}`);
    position += 6 + (hasContentSize ? 8 : 0) + (hasDictionaryId ? 4 : 0) + 1;
    if (position > data.length) throw fail('torn frame descriptor');
    for (;;) {
      if (data.length - position < 4) throw fail(`torn block size at ${position}`);
      const blockWord = data.readUInt32LE(position);
      position += 4;
      if (blockWord === 0) break;
      const blockBytes = blockWord & 0x7fffffff;
      if (blockBytes > blockMaxBytes)
        throw fail(`block of ${blockBytes} byte(s) above its maximum ${blockMaxBytes}`);
      position += blockBytes + (hasBlockChecksum ? 4 : 0);
      if (position > data.length) throw fail('torn block');
      boundBytes += blockMaxBytes;
    }
    position += hasContentChecksum ? 4 : 0;
    if (position > data.length) throw fail('torn content checksum');
  }
  return boundBytes;
}

function lz4Decompress(data: Buffer, maxBytes: number): Buffer {
  const boundBytes = lz4DecompressedBytesBound(data);
  // Every block but the last is full in practice, so the bound exceeds the true size by less than one
  // block (at most 4 MiB); refuse only frames whose bound is beyond the limit by more than that.
  if (boundBytes > maxBytes + lz4BlockMaxBytesByCode[7]!)
    throw tooLarge(CompressionType.Lz4, `up to ${boundBytes}`, maxBytes);
  const lz4 = loadLz4();
  let output: Buffer;
  try {
    output = lz4.decompressFrameSync(data);
  } catch (error) {
    throw corrupt(CompressionType.Lz4, describe(error));
  }
  if (output.length > maxBytes) throw tooLarge(CompressionType.Lz4, output.length, maxBytes);
  return output;
}

// ---- zstd ----------------------------------------------------------------------------------------
// zstd-napi's one-shot decompress trusts the frame's content size and returns partial output for a
// truncated frame, so we drive the streaming context ourselves: bounded output, and a frame must end.

function zstdDecompress(data: Buffer, maxBytes: number): Buffer {
  const binding = loadZstdBinding();
  const chunkBytes = binding.dStreamOutSize();
  const context = new binding.DCtx();
  const parts: Buffer[] = [];
  let totalBytes = 0;
  let input = data;
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkBytes);
      const [remainingHint, producedBytes, consumedBytes] = context.decompressStream(chunk, input);
      input = input.subarray(consumedBytes);
      totalBytes += producedBytes;
      if (totalBytes > maxBytes) throw tooLarge(CompressionType.Zstd, `more than ${maxBytes}`, maxBytes);
      if (producedBytes > 0) parts.push(chunk.subarray(0, producedBytes));
      if (remainingHint === 0 && input.length === 0) break;
      if (producedBytes === 0 && consumedBytes === 0) throw corrupt(CompressionType.Zstd, 'truncated frame');
    }
  } catch (error) {
    if (error instanceof KafkaError) throw error;
    throw corrupt(CompressionType.Zstd, describe(error));
  }
  return Buffer.concat(parts, totalBytes);
}
