import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, KafkaError } from './errors.js';
import {
  batchEnd,
  decodeRecordBatch,
  encodeRecordBatch,
  iterateBatches,
  iterateBatchHeaders,
  type RecordBatchInput,
  type RecordInput,
} from './record-batch.js';
import {
  BatchField,
  CompressionType,
  readBatchHeader,
  setBatchBaseOffsetAndEpoch,
  TimestampType,
} from './record-batch-header.js';

const codecs = [
  CompressionType.None,
  CompressionType.Gzip,
  CompressionType.Snappy,
  CompressionType.Lz4,
  CompressionType.Zstd,
] as const;

function expectCorrupt(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(KafkaError);
    expect((error as KafkaError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    return;
  }
  expect.fail('expected KafkaError(CORRUPT_MESSAGE)');
}

const nullableBuffer = fc.option(
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  { nil: null, freq: 5 },
);
const headerArbitrary = fc.record({
  key: fc.string({ unit: 'grapheme', maxLength: 20 }),
  value: nullableBuffer,
});
const timestampBase = 1_700_000_000_000;
const recordsArbitrary = fc
  .array(
    fc.record({
      key: nullableBuffer,
      value: nullableBuffer,
      headers: fc.array(headerArbitrary, { maxLength: 4 }),
      // Timestamps may go backwards within a batch (deltas are signed), and span far beyond 2^31 ms.
      timestamp: fc.integer({ min: 0, max: 2 ** 44 }),
      offsetGap: fc.integer({ min: 1, max: 1000 }),
    }),
    { maxLength: 30 },
  )
  .map((rows) => {
    let offsetDelta = -1;
    return rows.map(({ offsetGap, ...record }): RecordInput => {
      offsetDelta += offsetGap;
      return { ...record, offsetDelta };
    });
  });
const batchArbitrary = fc.record({
  baseOffset: fc.integer({ min: 0, max: 2 ** 50 }),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  records: recordsArbitrary,
  timestampType: fc.constantFrom(TimestampType.CreateTime, TimestampType.LogAppendTime),
  producerId: fc.integer({ min: -1, max: 2 ** 50 }),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  isTransactional: fc.boolean(),
  isControl: fc.boolean(),
});

function checkDecodedMatches(input: RecordBatchInput, compression: CompressionType, encoded: Buffer): void {
  const decoded = decodeRecordBatch(encoded);
  const { header } = decoded;
  const records = input.records;
  const baseOffset = input.baseOffset ?? 0;
  expect(header).toEqual(readBatchHeader(encoded));
  expect(header.sizeBytes).toBe(encoded.length);
  expect(header.baseOffset).toBe(baseOffset);
  expect(header.compression).toBe(compression);
  expect(header.recordsCount).toBe(records.length);
  expect(header.partitionLeaderEpoch).toBe(input.partitionLeaderEpoch);
  expect(header.producerId).toBe(input.producerId);
  expect(header.producerEpoch).toBe(input.producerEpoch);
  expect(header.baseSequence).toBe(input.baseSequence);
  expect(header.isTransactional).toBe(input.isTransactional);
  expect(header.isControl).toBe(input.isControl);
  expect(header.timestampType).toBe(input.timestampType);
  const timestamps = records.map((record) => record.timestamp);
  expect(header.baseTimestamp).toBe(timestamps[0] ?? -1);
  expect(header.maxTimestamp).toBe(records.length > 0 ? Math.max(...timestamps) : -1);
  expect(header.lastOffsetDelta).toBe(records.at(-1)?.offsetDelta ?? 0);
  expect(decoded.records).toHaveLength(records.length);
  decoded.records.forEach((record, index) => {
    const expected = records[index]!;
    expect(record.offset).toBe(baseOffset + expected.offsetDelta!);
    expect(record.timestamp).toBe(
      input.timestampType === TimestampType.LogAppendTime ? header.maxTimestamp : expected.timestamp,
    );
    expect(record.key).toEqual(expected.key);
    expect(record.value).toEqual(expected.value);
    expect(record.headers).toEqual(expected.headers);
  });
}

describe('encodeRecordBatch / decodeRecordBatch', () => {
  it('reproduces a batch built by hand from the format description, byte for byte', () => {
    const records = Buffer.from([
      // record 0: length 13 (zig-zag 0x1a), attributes 0, timestampDelta 0, offsetDelta 0,
      // key "k", value "v1", one header "h" = "x"
      0x1a, 0x00, 0x00, 0x00, 0x02, 0x6b, 0x04, 0x76, 0x31, 0x02, 0x02, 0x68, 0x02, 0x78,
      // record 1: length 8, attributes 0, timestampDelta 5 (0x0a), offsetDelta 1 (0x02),
      // key null (-1 = 0x01), value "v2", no headers
      0x10, 0x00, 0x0a, 0x02, 0x01, 0x04, 0x76, 0x32, 0x00,
    ]);
    const expected = Buffer.alloc(61 + records.length);
    expected.writeBigInt64BE(16n, 0); // baseOffset
    expected.writeInt32BE(expected.length - 12, 8); // batchLength
    expected.writeInt32BE(3, 12); // partitionLeaderEpoch
    expected.writeInt8(2, 16); // magic
    expected.writeInt16BE(0, 21); // attributes: no compression, CreateTime
    expected.writeInt32BE(1, 23); // lastOffsetDelta
    expected.writeBigInt64BE(1_700_000_000_000n, 27); // baseTimestamp
    expected.writeBigInt64BE(1_700_000_000_005n, 35); // maxTimestamp
    expected.writeBigInt64BE(7n, 43); // producerId
    expected.writeInt16BE(1, 51); // producerEpoch
    expected.writeInt32BE(0, 53); // baseSequence
    expected.writeInt32BE(2, 57); // recordsCount
    records.copy(expected, 61);
    expected.writeUInt32BE(crc32c(expected.subarray(21)) >>> 0, 17); // CRC-32C of attributes..end

    const encoded = encodeRecordBatch({
      baseOffset: 16,
      partitionLeaderEpoch: 3,
      records: [
        {
          key: Buffer.from('k'),
          value: Buffer.from('v1'),
          headers: [{ key: 'h', value: Buffer.from('x') }],
          timestamp: 1_700_000_000_000,
        },
        { key: null, value: Buffer.from('v2'), headers: [], timestamp: 1_700_000_000_005 },
      ],
      compression: CompressionType.None,
      timestampType: TimestampType.CreateTime,
      producerId: 7,
      producerEpoch: 1,
      baseSequence: 0,
      isTransactional: false,
      isControl: false,
    });
    expect(encoded.toString('hex')).toBe(expected.toString('hex'));
  });

  it.each(codecs)('round-trips random batches with codec %i', (compression) => {
    fc.assert(
      fc.property(batchArbitrary, (batch) => {
        const input = { ...batch, compression };
        checkDecodedMatches(input, compression, encodeRecordBatch(input));
      }),
      { numRuns: 80 },
    );
  });

  it('stores a LogAppendTime as maxTimestamp and reads it back as every record timestamp', () => {
    const encoded = encodeRecordBatch({
      records: [
        { key: null, value: Buffer.from('a'), timestamp: 5 },
        { key: null, value: Buffer.from('b'), timestamp: 9 },
      ],
      timestampType: TimestampType.LogAppendTime,
      logAppendTime: timestampBase,
    });
    const decoded = decodeRecordBatch(encoded);
    expect(decoded.header.maxTimestamp).toBe(timestampBase);
    expect(decoded.records.map((record) => record.timestamp)).toEqual([timestampBase, timestampBase]);
  });

  it('keeps the CRC valid when the broker rewrites baseOffset and partitionLeaderEpoch', () => {
    const encoded = encodeRecordBatch({ records: [{ key: null, value: Buffer.from('x'), timestamp: 1 }] });
    setBatchBaseOffsetAndEpoch(encoded, 0, 4242, 9);
    const decoded = decodeRecordBatch(encoded);
    expect(decoded.records[0]!.offset).toBe(4242);
    expect(decoded.header.partitionLeaderEpoch).toBe(9);
  });

  it('refuses offset deltas that do not increase', () => {
    const records = [
      { key: null, value: null, timestamp: 1, offsetDelta: 3 },
      { key: null, value: null, timestamp: 1, offsetDelta: 3 },
    ];
    expect(() => encodeRecordBatch({ records })).toThrow(KafkaError);
  });
});

describe('damaged batches', () => {
  const sample = (compression: CompressionType) =>
    encodeRecordBatch({
      baseOffset: 100,
      records: [
        {
          key: Buffer.from('key'),
          value: Buffer.from('value'),
          headers: [{ key: 'h', value: null }],
          timestamp: timestampBase,
        },
        { key: null, value: Buffer.from('second'), timestamp: timestampBase + 1 },
      ],
      compression,
      producerId: 1,
      producerEpoch: 0,
      baseSequence: 0,
    });

  it.each(codecs)('the CRC refuses any single flipped byte in attributes..end (codec %i)', (compression) => {
    const batch = sample(compression);
    fc.assert(
      fc.property(
        fc.integer({ min: BatchField.crc, max: batch.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (position, mask) => {
          const damaged = Buffer.from(batch);
          damaged[position]! ^= mask;
          expectCorrupt(() => decodeRecordBatch(damaged));
        },
      ),
      { numRuns: 300 },
    );
    // And every position, with one mask.
    for (let position = BatchField.attributes; position < batch.length; position++) {
      const damaged = Buffer.from(batch);
      damaged[position]! ^= 0x01;
      expectCorrupt(() => decodeRecordBatch(damaged));
    }
  });

  it('without the CRC check, mutated batches still fail only with CORRUPT_MESSAGE', () => {
    const batches = codecs.map(sample);
    fc.assert(
      fc.property(
        fc.constantFrom(...batches),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (batch, edits) => {
          const damaged = Buffer.from(batch);
          for (const [where, byte] of edits) damaged[where % damaged.length] = byte;
          try {
            decodeRecordBatch(damaged, 0, { verifyCrc: false, decompressedBytesMax: 1 << 20 });
          } catch (error) {
            expect(error).toBeInstanceOf(KafkaError);
            expect((error as KafkaError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a record length that disagrees with its fields is refused even with a valid CRC', () => {
    for (const delta of [-1, 1]) {
      const batch = sample(CompressionType.None);
      // The first record's length varint is the first byte after the header (a small value, one byte).
      const length = batch[61]! >> 1;
      batch[61] = (length + delta) << 1;
      batch.writeUInt32BE(crc32c(batch.subarray(BatchField.attributes)) >>> 0, BatchField.crc);
      expectCorrupt(() => decodeRecordBatch(batch));
    }
  });

  it('a record count beyond the records present, or bytes left over, is refused', () => {
    for (const count of [3, 1, 1_000_000]) {
      const batch = sample(CompressionType.None);
      batch.writeInt32BE(count, BatchField.recordsCount);
      batch.writeUInt32BE(crc32c(batch.subarray(BatchField.attributes)) >>> 0, BatchField.crc);
      expectCorrupt(() => decodeRecordBatch(batch));
    }
  });

  it('truncated input is CORRUPT_MESSAGE for the decoder', () => {
    const batch = sample(CompressionType.Gzip);
    for (let cut = 0; cut < batch.length; cut++)
      expectCorrupt(() => decodeRecordBatch(batch.subarray(0, cut)));
  });
});

describe('iterateBatches', () => {
  it('walks concatenated batches and stops quietly at every possible torn tail', () => {
    const batches = codecs.map((compression, index) =>
      encodeRecordBatch({
        baseOffset: index * 10,
        records: [
          { key: null, value: Buffer.from(`value ${index}`), timestamp: timestampBase + index },
          { key: Buffer.from('k'), value: null, timestamp: timestampBase + index },
        ],
        compression,
      }),
    );
    const log = Buffer.concat(batches);
    const ends = batches.map((_, index) =>
      batches.slice(0, index + 1).reduce((sum, batch) => sum + batch.length, 0),
    );
    for (let cut = 0; cut <= log.length; cut++) {
      const complete = ends.filter((end) => end <= cut).length;
      const decoded = [...iterateBatches(log.subarray(0, cut))];
      expect(decoded.map((batch) => batch.header.baseOffset)).toEqual(
        batches.slice(0, complete).map((_, i) => i * 10),
      );
      expect(decoded.map((batch) => batch.position)).toEqual([0, ...ends].slice(0, complete));
      expect([...iterateBatchHeaders(log.subarray(0, cut))].map((entry) => entry.header)).toEqual(
        decoded.map((batch) => batch.header),
      );
    }
    expect([...iterateBatches(log)].flatMap((batch) => batch.records.map((record) => record.offset))).toEqual(
      [0, 1, 10, 11, 20, 21, 30, 31, 40, 41],
    );
  });

  it('a corrupt batch in the middle throws; a length below the header size is corruption, not a tail', () => {
    const first = encodeRecordBatch({ records: [{ key: null, value: Buffer.from('a'), timestamp: 1 }] });
    const second = encodeRecordBatch({
      baseOffset: 1,
      records: [{ key: null, value: Buffer.from('b'), timestamp: 1 }],
    });
    const log = Buffer.concat([first, second]);
    log[first.length + 62]! ^= 0xff;
    const iterator = iterateBatches(log);
    expect(iterator.next().value?.header.baseOffset).toBe(0);
    expectCorrupt(() => iterator.next());

    const forged = Buffer.concat([first, Buffer.alloc(20)]);
    expectCorrupt(() => [...iterateBatches(forged)]);
    expect(batchEnd(forged, 0)).toBe(first.length);
  });
});

describe('encodeRecordBatch buffers', () => {
  it('writes length varints of every width, each boundary either side, for every codec', () => {
    // 1- and 2-byte zig-zag varint lengths end at 63 and 8191: values of those lengths and one more;
    // timestamp deltas beyond 30 bits both ways and offset deltas of 4 and 5 bytes.
    const lengths = [0, 63, 64, 8_191, 8_192, 20_000];
    const records: RecordInput[] = lengths.map((length, index) => ({
      key: index % 2 === 0 ? null : Buffer.alloc(length % 300, index),
      value: Buffer.alloc(length, 0x41 + index),
      headers: index === 3 ? [{ key: 'h'.repeat(64), value: Buffer.alloc(8_192, 7) }] : [],
      timestamp: timestampBase + (index % 2 === 0 ? 1 : -1) * index * 2 ** 31,
      offsetDelta: index * 2 ** 27,
    }));
    for (const compression of codecs) {
      const input = {
        records,
        compression,
        baseOffset: 5,
        partitionLeaderEpoch: 1,
        timestampType: TimestampType.CreateTime,
        producerId: 3,
        producerEpoch: 0,
        baseSequence: 9,
        isTransactional: false,
        isControl: false,
      };
      checkDecodedMatches(input, compression, encodeRecordBatch(input));
    }
  });

  it.each(codecs)(
    'with codec %i, writes every byte of a given buffer: the same batch over any bytes left in it',
    (compression) => {
      fc.assert(
        fc.property(batchArbitrary, fc.integer({ min: 0, max: 255 }), (batch, filler) => {
          const input = { ...batch, compression };
          const asked: number[] = [];
          const given: Buffer[] = [];
          const encoded = encodeRecordBatch(input, {
            allocate: (bytes) => {
              asked.push(bytes);
              const buffer = Buffer.alloc(bytes + 3, filler).subarray(0, bytes);
              given.push(buffer);
              return buffer;
            },
          });
          // One buffer for the batch itself, of exactly its size, and the batch is written in it.
          expect(asked).toEqual([encoded.length]);
          expect(encoded.buffer).toBe(given[0]!.buffer);
          expect(encoded.byteOffset).toBe(given[0]!.byteOffset);
          expect(encoded.equals(encodeRecordBatch(input))).toBe(true);
          checkDecodedMatches(input, compression, encoded);
        }),
        { numRuns: 40 },
      );
    },
  );

  it('refuses a buffer of another size than it asked for', () => {
    const records: RecordInput[] = [{ key: null, value: Buffer.from('v'), timestamp: timestampBase }];
    expect(() => encodeRecordBatch({ records }, { allocate: (bytes) => Buffer.alloc(bytes + 1) })).toThrow(
      /asked for \d+ bytes, given/,
    );
  });

  it('writes an uncompressed batch into one buffer of exactly its size', () => {
    // Above Node's pool size (4 KiB), so the batch has an ArrayBuffer of its own to measure.
    const records: RecordInput[] = Array.from({ length: 40 }, (_, index) => ({
      key: index % 3 === 0 ? null : Buffer.from(`key-${index}`),
      value: Buffer.alloc(200 + index, index),
      headers: index % 2 === 0 ? [{ key: 'h', value: Buffer.from([index]) }] : [],
      timestamp: 1_700_000_000_000 + index * 1_000_003,
    }));
    const batch = encodeRecordBatch({ records });
    expect(batch.buffer.byteLength).toBe(batch.length);
    expect(batch.byteOffset).toBe(0);
    const decoded = decodeRecordBatch(batch);
    expect(decoded.records.map((record) => record.value)).toEqual(records.map((record) => record.value));
    expect(decoded.records.map((record) => record.headers)).toEqual(records.map((record) => record.headers));
  });
});
