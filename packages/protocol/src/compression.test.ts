import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { compressSync as snappyRawCompress } from 'snappy';
import { describe, expect, it } from 'vitest';
import { compress, decompress, lazyNative, lz4FrameMagic, xerialHeader } from './compression.js';
import { ErrorCode, KafkaError } from './errors.js';
import { CompressionType } from './record-batch-header.js';

const codecs = [
  CompressionType.None,
  CompressionType.Gzip,
  CompressionType.Snappy,
  CompressionType.Lz4,
  CompressionType.Zstd,
] as const;
const compressingCodecs = codecs.filter((codec) => codec !== CompressionType.None);

function expectKafkaError(run: () => unknown, code: number): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KafkaError);
    expect((error as KafkaError).code).toBe(code);
    return;
  }
  expect.fail('expected a KafkaError');
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value, 0);
  return buffer;
}

function uint32le(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value >>> 0, 0);
  return buffer;
}

describe('compression round trips', () => {
  it.each(codecs)('codec %i returns what it was given', (codec) => {
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc.string({ maxLength: 3000 }).map((text) => new TextEncoder().encode(text.repeat(20))),
    );
    fc.assert(
      fc.property(data, (bytes) => {
        const input = Buffer.from(bytes);
        expect(decompress(codec, compress(codec, input))).toEqual(input);
      }),
      { numRuns: 60 },
    );
    // Several snappy chunks, several lz4 blocks, a large zstd window.
    const large = Buffer.alloc(300 * 1024);
    for (let i = 0; i < large.length; i++) large[i] = (i * 7919) % 251;
    expect(decompress(codec, compress(codec, large))).toEqual(large);
    expect(decompress(codec, compress(codec, Buffer.alloc(0)))).toEqual(Buffer.alloc(0));
  });
});

describe('snappy framing', () => {
  const hello = Buffer.from('hello');
  // A raw snappy block built from the format description: varint length 5, literal tag (5-1)<<2.
  const rawHello = Buffer.from([0x05, 0x10, ...hello]);

  it('writes the xerial stream (what the Java producer writes)', () => {
    const framed = compress(CompressionType.Snappy, hello);
    expect(framed.subarray(0, 16)).toEqual(xerialHeader);
    expect(framed.subarray(16)).toEqual(Buffer.concat([int32(rawHello.length), rawHello]));
  });

  it('reads a raw block (librdkafka, kafkajs) and a hand-built xerial stream with several chunks', () => {
    expect(decompress(CompressionType.Snappy, rawHello)).toEqual(hello);
    const world = snappyRawCompress(Buffer.from(' world'));
    const framed = Buffer.concat([
      xerialHeader,
      int32(rawHello.length),
      rawHello,
      int32(world.length),
      world,
    ]);
    expect(decompress(CompressionType.Snappy, framed)).toEqual(Buffer.from('hello world'));
  });

  it('refuses a declared length above the limit before decompressing', () => {
    const forged = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    expectKafkaError(() => decompress(CompressionType.Snappy, forged), ErrorCode.CORRUPT_MESSAGE);
    const torn = Buffer.concat([xerialHeader, int32(100), rawHello]);
    expectKafkaError(() => decompress(CompressionType.Snappy, torn), ErrorCode.CORRUPT_MESSAGE);
  });
});

describe('lz4 frames', () => {
  // Magic 0x184D2204 (LE), FLG 0x60 (version 01, independent blocks), BD 0x40 (64 KiB blocks), and the
  // header checksum 0x82 ((xxh32(FLG BD) >> 8) & 0xff): the descriptor Kafka's Java client writes.
  const kafkaFrameHeader = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
  const endMark = uint32le(0);

  it('writes standard frames with the descriptor Kafka uses', () => {
    const frame = compress(CompressionType.Lz4, Buffer.from('some data some data some data'));
    expect(frame.readUInt32LE(0)).toBe(lz4FrameMagic);
    expect(frame.subarray(0, 7)).toEqual(kafkaFrameHeader);
  });

  it('reads a hand-built frame with a stored block and a compressed block', () => {
    const stored = Buffer.from('stored ');
    // One LZ4 sequence: 1 literal 'a', then a match of 18 bytes at offset 1; then 5 literals 'b'.
    const compressedBlock = Buffer.from([0x1e, 0x61, 0x01, 0x00, 0x50, 0x62, 0x62, 0x62, 0x62, 0x62]);
    const frame = Buffer.concat([
      kafkaFrameHeader,
      uint32le(0x8000_0000 | stored.length),
      stored,
      uint32le(compressedBlock.length),
      compressedBlock,
      endMark,
    ]);
    expect(decompress(CompressionType.Lz4, frame).toString()).toBe(`stored ${'a'.repeat(19)}bbbbb`);
  });

  it('refuses torn frames, bad magic and oversized output with CORRUPT_MESSAGE', () => {
    const frame = compress(CompressionType.Lz4, Buffer.alloc(200 * 1024, 1));
    for (const cut of [3, 6, 10, frame.length - 1]) {
      expectKafkaError(
        () => decompress(CompressionType.Lz4, frame.subarray(0, cut)),
        ErrorCode.CORRUPT_MESSAGE,
      );
    }
    expectKafkaError(
      () => decompress(CompressionType.Lz4, Buffer.from('not an lz4 frame')),
      ErrorCode.CORRUPT_MESSAGE,
    );
    expectKafkaError(
      () => decompress(CompressionType.Lz4, compress(CompressionType.Lz4, Buffer.alloc(12 << 20)), 1 << 20),
      ErrorCode.CORRUPT_MESSAGE,
    );
  });
});

describe('zstd and gzip frames', () => {
  it('reads a hand-built zstd frame (one raw block) and refuses it truncated', () => {
    // Magic, descriptor 0x20 (single segment, 1-byte content size) = 5, last raw block of 5 bytes.
    const frame = Buffer.from([
      0x28,
      0xb5,
      0x2f,
      0xfd,
      0x20,
      0x05,
      0x29,
      0x00,
      0x00,
      ...Buffer.from('hello'),
    ]);
    expect(decompress(CompressionType.Zstd, frame).toString()).toBe('hello');
    for (let cut = 0; cut < frame.length; cut++) {
      expectKafkaError(
        () => decompress(CompressionType.Zstd, frame.subarray(0, cut)),
        ErrorCode.CORRUPT_MESSAGE,
      );
    }
    expect(compress(CompressionType.Zstd, Buffer.from('x')).readUInt32LE(0)).toBe(0xfd2fb528);
  });

  it('reads concatenated gzip members, as Java does', () => {
    const members = Buffer.concat([gzipSync(Buffer.from('ab')), gzipSync(Buffer.from('cd'))]);
    expect(decompress(CompressionType.Gzip, members).toString()).toBe('abcd');
  });
});

describe('decompression limits and malformed input', () => {
  it.each(compressingCodecs)('codec %i refuses output above the limit', (codec) => {
    const bomb = compress(codec, Buffer.alloc(8 << 20));
    expectKafkaError(() => decompress(codec, bomb, 1 << 20), ErrorCode.CORRUPT_MESSAGE);
    expect(decompress(codec, bomb, 8 << 20).length).toBe(8 << 20);
  });

  it.each(compressingCodecs)(
    'codec %i answers garbage with CORRUPT_MESSAGE or a buffer, nothing else',
    (codec) => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          try {
            expect(decompress(codec, Buffer.from(bytes), 1 << 20)).toBeInstanceOf(Buffer);
          } catch (error) {
            expect(error).toBeInstanceOf(KafkaError);
            expect((error as KafkaError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
          }
        }),
        { numRuns: 200 },
      );
    },
  );

  it('an unknown codec and a codec library that fails to load are UNSUPPORTED_COMPRESSION_TYPE at use time', () => {
    expectKafkaError(
      () => decompress(6 as CompressionType, Buffer.alloc(1)),
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
    );
    expectKafkaError(
      () => compress(7 as CompressionType, Buffer.alloc(1)),
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
    );
    const load = lazyNative('gregor-no-such-codec-module', CompressionType.Zstd);
    expectKafkaError(load, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    expectKafkaError(load, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  });
});
