// Checks our RecordBatch v2 codec against kafka-python, a decoder and encoder that is not ours (its own
// layout code, CRC-32C and codec framing). Both directions: our batches decoded by kafka-python, and
// kafka-python's DefaultRecordBatchBuilder batches decoded by us. See packages/protocol/README.md.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeRecordBatch,
  iterateBatches,
  type RecordBatchInput,
  type RecordInput,
} from './record-batch.js';
import { CompressionType, TimestampType } from './record-batch-header.js';

const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('./testing/decode_batches.py', import.meta.url));
const installHint =
  'kafka-python is the independent RecordBatch decoder for these tests; install it with ' +
  '`apt-get install -y python3-kafka python3-snappy python3-lz4 python3-zstandard` (Debian packages, run by /usr/bin/python3)';
const codecNames = {
  gzip: CompressionType.Gzip,
  snappy: CompressionType.Snappy,
  lz4: CompressionType.Lz4,
  zstd: CompressionType.Zstd,
};
const allCodecs = [CompressionType.None, ...Object.values(codecNames)];
/** Enough for every sample below; a JSON reply larger than this means the test itself went wrong. */
const pythonOutputBytesMax = 256 * 1024 * 1024;

interface PythonRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}
interface PythonBatch {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  crcValid: boolean;
  compression: number;
  timestampType: number;
  isTransactional: boolean;
  isControl: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
  records: PythonRecord[];
}

function runPython(...args: string[]): string {
  try {
    return execFileSync(python, [script, ...args], { encoding: 'utf8', maxBuffer: pythonOutputBytesMax });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `${python} ${script} ${args.join(' ')} failed: ${stderr || String(error)}\n${installHint}`,
    );
  }
}

const b64 = (data: Buffer | null) => (data === null ? null : data.toString('base64'));

let workDir = '';

beforeAll(() => {
  try {
    execFileSync(python, ['-c', 'import kafka.record.default_records'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`cannot import kafka-python with ${python}: ${String(error)}\n${installHint}`);
  }
  const available = JSON.parse(runPython('codecs')) as Record<string, boolean>;
  const missing = Object.entries(available)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  if (missing.length > 0)
    throw new Error(`kafka-python lacks codec module(s) for ${missing.join(', ')}.\n${installHint}`);
  workDir = mkdtempSync(join(tmpdir(), 'gregor-kafka-python-'));
});

afterAll(() => {
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
});

const nullableBuffer = fc.option(
  fc.uint8Array({ maxLength: 100 }).map((bytes) => Buffer.from(bytes)),
  { nil: null, freq: 5 },
);
// Repetitive values so that kafka-python's builder, which sends uncompressed when compression does
// not pay, really compresses.
const compressibleValue = fc
  .tuple(fc.string({ maxLength: 20 }), fc.integer({ min: 1, max: 200 }))
  .map(([text, times]) => Buffer.from(`${text}|`.repeat(times)));
const recordArbitrary = (value: fc.Arbitrary<Buffer | null>) =>
  fc.record({
    key: nullableBuffer,
    value,
    headers: fc.array(
      fc.record({ key: fc.string({ unit: 'grapheme', maxLength: 12 }), value: nullableBuffer }),
      { maxLength: 3 },
    ),
    timestamp: fc.integer({ min: 0, max: 2 ** 44 }),
  });
const largeRecord: RecordInput = {
  key: Buffer.from('large'),
  // Several lz4 blocks (64 KiB) and snappy chunks (32 KiB), not trivially compressible.
  value: Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31 + (i >> 7)) % 251)),
  headers: [{ key: 'kind', value: Buffer.from('large') }],
  timestamp: 1_700_000_000_000,
};

const compressibleRecord: RecordInput = {
  key: null,
  value: Buffer.from('compressible '.repeat(100)),
  headers: [],
  timestamp: 1_700_000_000_001,
};

describe('kafka-python decodes our batches', () => {
  it('every header field, CRC, record and codec agree', () => {
    const batchSpecs = fc.sample(
      fc.record({
        records: fc.array(recordArbitrary(fc.oneof(nullableBuffer, compressibleValue)), { maxLength: 12 }),
        partitionLeaderEpoch: fc.integer({ min: -1, max: 1000 }),
        timestampType: fc.constantFrom(TimestampType.CreateTime, TimestampType.LogAppendTime),
        producerId: fc.integer({ min: -1, max: 2 ** 40 }),
        producerEpoch: fc.integer({ min: -1, max: 32767 }),
        baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        isTransactional: fc.boolean(),
        isControl: fc.boolean(),
      }),
      { numRuns: 40, seed: 2024 },
    );
    let baseOffset = 0;
    const inputs: RecordBatchInput[] = batchSpecs.map((spec, index) => {
      const records = index % 8 === 0 ? [...spec.records, largeRecord] : spec.records;
      const input = { ...spec, records, baseOffset, compression: allCodecs[index % allCodecs.length]! };
      baseOffset += records.length + 5;
      return input;
    });
    const encoded = inputs.map((input) => encodeRecordBatch(input));
    // A torn last batch, as a fetch response may end: both decoders must stop before it.
    const tail = encoded[1]!.subarray(0, encoded[1]!.length - 3);
    const file = join(workDir, 'ours.bin');
    writeFileSync(file, Buffer.concat([...encoded, tail]));

    const decoded = JSON.parse(runPython('decode', file)) as { batches: PythonBatch[]; validBytes: number };
    expect(decoded.batches).toHaveLength(inputs.length);
    expect(decoded.validBytes).toBe(encoded.reduce((sum, batch) => sum + batch.length, 0));
    const ours = [...iterateBatches(readFileSync(file))];
    decoded.batches.forEach((theirs, index) => {
      const input = inputs[index]!;
      const mine = ours[index]!;
      expect(theirs.crcValid).toBe(true);
      expect(theirs).toMatchObject({
        baseOffset: mine.header.baseOffset,
        batchLength: mine.header.sizeBytes - 12,
        partitionLeaderEpoch: input.partitionLeaderEpoch,
        magic: 2,
        crc: mine.header.crc,
        compression: input.compression,
        timestampType: input.timestampType,
        isTransactional: input.isTransactional,
        isControl: input.isControl,
        lastOffsetDelta: mine.header.lastOffsetDelta,
        baseTimestamp: mine.header.baseTimestamp,
        maxTimestamp: mine.header.maxTimestamp,
        producerId: input.producerId,
        producerEpoch: input.producerEpoch,
        baseSequence: input.baseSequence,
        recordsCount: input.records.length,
      });
      expect(theirs.records).toEqual(
        input.records.map((record, recordIndex) => ({
          offset: input.baseOffset! + recordIndex,
          timestamp:
            input.timestampType === TimestampType.LogAppendTime ? mine.header.maxTimestamp : record.timestamp,
          key: b64(record.key),
          value: b64(record.value),
          headers: (record.headers ?? []).map((header) => [header.key, b64(header.value)]),
        })),
      );
    });
  });
});

describe('we decode kafka-python batches', () => {
  it('built by DefaultRecordBatchBuilder with every codec', () => {
    const specs = fc.sample(
      fc.record({
        records: fc.array(recordArbitrary(compressibleValue), { minLength: 1, maxLength: 12 }),
        producerId: fc.integer({ min: -1, max: 2 ** 40 }),
        producerEpoch: fc.integer({ min: -1, max: 32767 }),
        baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        isTransactional: fc.boolean(),
      }),
      { numRuns: 30, seed: 7 },
    );
    let baseOffset = 1000;
    const batches = specs.map((spec, index) => {
      // A very compressible record in each batch, so that compression always pays.
      const records = [...spec.records, index % 6 === 0 ? largeRecord : compressibleRecord];
      const batch = {
        ...spec,
        baseOffset,
        compression: allCodecs[index % allCodecs.length]!,
        records: records.map((record, offsetDelta) => ({
          offsetDelta,
          timestamp: record.timestamp,
          key: b64(record.key),
          value: b64(record.value),
          headers: (record.headers ?? []).map((header) => [header.key, b64(header.value)]),
        })),
      };
      baseOffset += records.length;
      return batch;
    });
    const specFile = join(workDir, 'spec.json');
    const outFile = join(workDir, 'theirs.bin');
    writeFileSync(specFile, JSON.stringify({ batches }));
    runPython('build', specFile, outFile);

    const decoded = [...iterateBatches(readFileSync(outFile))];
    expect(decoded).toHaveLength(batches.length);
    decoded.forEach((batch, index) => {
      const spec = batches[index]!;
      expect(batch.header).toMatchObject({
        baseOffset: spec.baseOffset,
        // The builder sends uncompressed when compression does not shrink the records; ours are compressible.
        compression: spec.compression,
        timestampType: TimestampType.CreateTime,
        isTransactional: spec.isTransactional,
        isControl: false,
        producerId: spec.producerId,
        producerEpoch: spec.producerEpoch,
        baseSequence: spec.baseSequence,
        recordsCount: spec.records.length,
        lastOffsetDelta: spec.records.length - 1,
      });
      expect(
        batch.records.map((record) => ({
          offsetDelta: record.offset - spec.baseOffset,
          timestamp: record.timestamp,
          key: b64(record.key),
          value: b64(record.value),
          headers: record.headers.map((header) => [header.key, b64(header.value)]),
        })),
      ).toEqual(spec.records);
    });
  });
});
