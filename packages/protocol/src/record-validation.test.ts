import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, KafkaError, RecordValidationError } from './errors.js';
import { encodeRecordBatch } from './record-batch.js';
import {
  BatchField,
  batchHeaderBytes,
  CompressionType,
  computeBatchCrc,
  readBatchHeader,
} from './record-batch-header.js';
import { validateProducedRecords } from './record-validation.js';

const records = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    key: i % 3 === 0 ? null : Buffer.from(`key-${i}`),
    value: i % 5 === 0 ? null : Buffer.alloc(i * 7, i),
    headers:
      i % 2 === 0
        ? [
            { key: 'h', value: Buffer.from([i]) },
            { key: 'n', value: null },
          ]
        : [],
    timestamp: 1_700_000_000_000 + i * 1000,
  }));

function validate(batch: Buffer): void {
  validateProducedRecords(batch, 0, readBatchHeader(batch, 0));
}

/** Re-seals the CRC after tampering, so only record-level validation can notice. */
function reseal(batch: Buffer): Buffer {
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), BatchField.crc);
  return batch;
}

function codeOf(action: () => void): number | 'ok' {
  try {
    action();
    return 'ok';
  } catch (error) {
    if (error instanceof KafkaError) return error.code;
    throw error;
  }
}

describe('validateProducedRecords', () => {
  it('accepts what the encoder writes, for every codec', () => {
    for (const compression of [
      CompressionType.None,
      CompressionType.Gzip,
      CompressionType.Snappy,
      CompressionType.Lz4,
      CompressionType.Zstd,
    ]) {
      expect(() => validate(encodeRecordBatch({ records: records(40), compression }))).not.toThrow();
    }
  });

  it('refuses offset deltas other than 0..n-1 with INVALID_RECORD', () => {
    const sparse = encodeRecordBatch({
      records: records(3).map((record, i) => ({ ...record, offsetDelta: i * 2 })),
      lastOffsetDelta: 4,
    });
    expect(codeOf(() => validate(sparse))).toBe(ErrorCode.INVALID_RECORD);
    const batch = encodeRecordBatch({ records: records(3) });
    batch.writeInt32BE(5, BatchField.lastOffsetDelta);
    expect(codeOf(() => validate(reseal(batch)))).toBe(ErrorCode.INVALID_RECORD);
  });

  it('refuses a record count that does not match the records', () => {
    const batch = encodeRecordBatch({ records: records(3) });
    batch.writeInt32BE(2, BatchField.recordsCount);
    batch.writeInt32BE(1, BatchField.lastOffsetDelta);
    expect(codeOf(() => validate(reseal(batch)))).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  it('refuses records cut short, or bytes after the last record', () => {
    const batch = encodeRecordBatch({ records: records(4) });
    const cut = Buffer.from(batch.subarray(0, batch.length - 3));
    cut.writeInt32BE(cut.length - 12, BatchField.batchLength);
    expect(codeOf(() => validate(reseal(cut)))).toBe(ErrorCode.CORRUPT_MESSAGE);
    const padded = Buffer.concat([batch, Buffer.from([0, 0])]);
    padded.writeInt32BE(padded.length - 12, BatchField.batchLength);
    expect(codeOf(() => validate(reseal(padded)))).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  it('with requireKeys (a compacted topic) refuses a keyless record, also inside compression', () => {
    const keyed = encodeRecordBatch({
      records: [
        { key: Buffer.from('a'), value: Buffer.from('x'), timestamp: 1 },
        { key: Buffer.from('b'), value: null, timestamp: 1 },
      ],
    });
    expect(() =>
      validateProducedRecords(keyed, 0, readBatchHeader(keyed, 0), { requireKeys: true }),
    ).not.toThrow();
    for (const compression of [CompressionType.None, CompressionType.Zstd]) {
      const keyless = encodeRecordBatch({
        records: [
          { key: Buffer.from('a'), value: Buffer.from('x'), timestamp: 1 },
          { key: null, value: Buffer.from('y'), timestamp: 1 },
        ],
        compression,
      });
      const header = readBatchHeader(keyless, 0);
      expect(codeOf(() => validateProducedRecords(keyless, 0, header, { requireKeys: true }))).toBe(
        ErrorCode.INVALID_RECORD,
      );
      expect(codeOf(() => validateProducedRecords(keyless, 0, header))).toBe('ok');
    }
  });

  it('lists every keyless record of the batch as a record error (KIP-467), with Kafka wording', () => {
    const keys = ['a', null, 'c', null, null, 'f', null];
    for (const compression of [CompressionType.None, CompressionType.Lz4]) {
      const batch = encodeRecordBatch({
        records: keys.map((key) => ({
          key: key === null ? null : Buffer.from(key),
          value: Buffer.from('v'),
          timestamp: 1,
        })),
        compression,
      });
      let refusal: unknown;
      try {
        validateProducedRecords(batch, 0, readBatchHeader(batch, 0), {
          requireKeys: true,
          topicPartition: 'changelog-3',
        });
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toBeInstanceOf(RecordValidationError);
      const error = refusal as RecordValidationError;
      expect(error.code).toBe(ErrorCode.INVALID_RECORD);
      const message = 'Compacted topic cannot accept message without key in topic partition changelog-3.';
      expect(error.recordErrors).toEqual([1, 3, 4, 6].map((batchIndex) => ({ batchIndex, message })));
      expect(error.message).toBe(
        'INVALID_RECORD: One or more records have been rejected due to 4 record errors in total, ' +
          'and only showing the first three errors at most: [' +
          [1, 3, 4].map((index) => `RecordError(batchIndex=${index}, message='${message}')`).join(', ') +
          ']',
      );
    }
  });

  it('refuses a batch whose records do not parse as corrupt, without record errors, keyless ones or not', () => {
    const batch = encodeRecordBatch({
      records: [
        { key: null, value: Buffer.from('v'), timestamp: 1 },
        { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 1 },
      ],
    });
    const cut = Buffer.from(batch.subarray(0, batch.length - 1));
    cut.writeInt32BE(cut.length - 12, BatchField.batchLength);
    let refusal: unknown;
    try {
      validateProducedRecords(reseal(cut), 0, readBatchHeader(cut, 0), { requireKeys: true });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(KafkaError);
    expect(refusal).not.toBeInstanceOf(RecordValidationError);
    expect((refusal as KafkaError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
  });

  describe('with createTimeBounds (message.timestamp.before.max.ms / after.max.ms, KIP-937)', () => {
    const nowMs = 1_700_000_000_000;
    const hourMs = 3_600_000;
    const bounds = { nowMs, beforeMaxMs: hourMs, afterMaxMs: hourMs };
    const at = (timestamp: number, key: Buffer | null = Buffer.from('k')) => ({
      key,
      value: Buffer.from('v'),
      timestamp,
    });

    function refusalOf(batch: Buffer, options: Parameters<typeof validateProducedRecords>[3]) {
      try {
        validateProducedRecords(batch, 0, readBatchHeader(batch, 0), options);
      } catch (error) {
        return error;
      }
      return undefined;
    }

    it('refuses the records stamped too far in the past or the future, naming each with Kafka wording', () => {
      for (const compression of [CompressionType.None, CompressionType.Gzip]) {
        const batch = encodeRecordBatch({
          compression,
          records: [
            at(nowMs - 2 * hourMs),
            at(nowMs),
            at(nowMs + hourMs / 2),
            at(nowMs + 2 * hourMs),
            at(nowMs - hourMs / 2),
          ],
        });
        const refusal = refusalOf(batch, { createTimeBounds: bounds });
        expect(refusal).toBeInstanceOf(RecordValidationError);
        const error = refusal as RecordValidationError;
        expect(error.code).toBe(ErrorCode.INVALID_TIMESTAMP);
        expect(error.message).toBe(
          'INVALID_TIMESTAMP: One or more records have been rejected due to invalid timestamp',
        );
        const range = `[${nowMs - hourMs}, ${nowMs + hourMs}]`;
        expect(error.recordErrors).toEqual([
          {
            batchIndex: 0,
            message: `Timestamp ${nowMs - 2 * hourMs} of message with offset 0 is out of range. The timestamp should be within ${range}`,
          },
          {
            batchIndex: 3,
            message: `Timestamp ${nowMs + 2 * hourMs} of message with offset 3 is out of range. The timestamp should be within ${range}`,
          },
        ]);
      }
    });

    it('accepts records at the bounds themselves, and records without a timestamp', () => {
      const batch = encodeRecordBatch({
        records: [at(nowMs + hourMs), at(nowMs - hourMs), at(-1), at(nowMs)],
      });
      expect(refusalOf(batch, { createTimeBounds: bounds })).toBeUndefined();
      const justOut = encodeRecordBatch({ records: [at(nowMs), at(nowMs + hourMs + 1)] });
      expect(
        (refusalOf(justOut, { createTimeBounds: bounds }) as RecordValidationError).recordErrors,
      ).toEqual([expect.objectContaining({ batchIndex: 1 })]);
      const justBefore = encodeRecordBatch({ records: [at(nowMs - hourMs - 1)] });
      expect((refusalOf(justBefore, { createTimeBounds: bounds }) as KafkaError).code).toBe(
        ErrorCode.INVALID_TIMESTAMP,
      );
    });

    it('checks nothing without bounds (a LogAppendTime topic), and a Long.MAX_VALUE bound is none', () => {
      const batch = encodeRecordBatch({ records: [at(0), at(nowMs + 365 * 24 * hourMs)] });
      expect(refusalOf(batch, {})).toBeUndefined();
      const unbounded = { nowMs, beforeMaxMs: Number.MAX_SAFE_INTEGER, afterMaxMs: Number.MAX_SAFE_INTEGER };
      expect(refusalOf(batch, { createTimeBounds: unbounded })).toBeUndefined();
      // Only the future is bounded: the record at 0 passes, the one a year ahead does not.
      const futureOnly = { nowMs, beforeMaxMs: Number.MAX_SAFE_INTEGER, afterMaxMs: hourMs };
      const refusal = refusalOf(batch, { createTimeBounds: futureOnly }) as RecordValidationError;
      expect(refusal.recordErrors.map((error) => error.batchIndex)).toEqual([1]);
    });

    it("prints the range in Java's long arithmetic, as Kafka does when a bound is Long.MAX_VALUE", () => {
      const batch = encodeRecordBatch({ records: [at(0)] });
      const pastOnly = { nowMs, beforeMaxMs: hourMs, afterMaxMs: Number.MAX_SAFE_INTEGER };
      const refusal = refusalOf(batch, { createTimeBounds: pastOnly }) as RecordValidationError;
      const wrapped = BigInt(nowMs) + 2n ** 63n - 1n - 2n ** 64n;
      expect(refusal.recordErrors[0]!.message).toBe(
        `Timestamp 0 of message with offset 0 is out of range. The timestamp should be within [${nowMs - hourMs}, ${wrapped}]`,
      );
    });

    it('reads timestamps below the batch base timestamp (negative deltas)', () => {
      const batch = encodeRecordBatch({ records: [at(nowMs), at(nowMs - 3 * hourMs), at(nowMs - 10)] });
      const refusal = refusalOf(batch, { createTimeBounds: bounds }) as RecordValidationError;
      expect(refusal.recordErrors.map((error) => error.batchIndex)).toEqual([1]);
    });

    it('reads every timestamp delta exactly, short or long, positive or negative', () => {
      const timestamp = fc.oneof(
        fc.integer({ min: nowMs - 3 * hourMs, max: nowMs + 3 * hourMs }),
        fc.integer({ min: 0, max: 2 ** 52 }),
      );
      fc.assert(
        fc.property(fc.array(timestamp, { minLength: 1, maxLength: 8 }), (timestamps) => {
          const batch = encodeRecordBatch({ records: timestamps.map((t) => at(t)) });
          const refusal = refusalOf(batch, { createTimeBounds: bounds }) as RecordValidationError | undefined;
          const expected = timestamps.flatMap((t, index) => (Math.abs(t - nowMs) > hourMs ? [index] : []));
          expect(refusal?.recordErrors.map((error) => error.batchIndex) ?? []).toEqual(expected);
          for (const error of refusal?.recordErrors ?? []) {
            expect(error.message).toContain(`Timestamp ${timestamps[error.batchIndex]} of message`);
          }
        }),
        { numRuns: 500 },
      );
    });

    it('names a keyless record on a compacted topic for its key only; any timestamp error makes the batch INVALID_TIMESTAMP', () => {
      const options = { requireKeys: true, topicPartition: 'changelog-0', createTimeBounds: bounds };
      const keyMessage = 'Compacted topic cannot accept message without key in topic partition changelog-0.';
      const both = encodeRecordBatch({
        records: [at(nowMs - 2 * hourMs, null), at(nowMs), at(nowMs + 2 * hourMs)],
      });
      const refusal = refusalOf(both, options) as RecordValidationError;
      expect(refusal.code).toBe(ErrorCode.INVALID_TIMESTAMP);
      expect(refusal.recordErrors).toEqual([
        { batchIndex: 0, message: keyMessage },
        {
          batchIndex: 2,
          message: expect.stringContaining(`Timestamp ${nowMs + 2 * hourMs} of message with offset 2`),
        },
      ]);
      const keysOnly = encodeRecordBatch({ records: [at(nowMs - 2 * hourMs, null), at(nowMs)] });
      const keyRefusal = refusalOf(keysOnly, options) as RecordValidationError;
      expect(keyRefusal.code).toBe(ErrorCode.INVALID_RECORD);
      expect(keyRefusal.recordErrors).toEqual([{ batchIndex: 0, message: keyMessage }]);
    });
  });

  it('only ever refuses with a Kafka error code, whatever byte of the records is changed', () => {
    const original = encodeRecordBatch({ records: records(6) });
    fc.assert(
      fc.property(
        fc.integer({ min: batchHeaderBytes, max: original.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, xor) => {
          const batch = Buffer.from(original);
          batch[at] = batch[at]! ^ xor;
          const outcome = codeOf(() => validate(reseal(batch)));
          expect(['ok', ErrorCode.CORRUPT_MESSAGE, ErrorCode.INVALID_RECORD]).toContain(outcome);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
