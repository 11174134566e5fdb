import {
  CompressionType,
  decodeRecordBatch,
  ErrorCode,
  encodeRecordBatch,
  encodeTransactionMarkerBatch,
  type KafkaError,
  RecordValidationError,
  readBatchHeader,
  TimestampType,
  validateBatch,
} from '@gregor/protocol';
import { defaultLogConfig, type LogConfig } from '@gregor/storage';
import { describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { validateProducedRecordSet } from './log-validator.js';

function config(overrides: Partial<LogConfig>): LogConfig {
  return { ...defaultLogConfig, ...overrides };
}

/** The broker time of appends of batchOf's batches (stamped from 1_600_000_000_000 on). */
const batchOfTimeMs = 1_600_000_000_000;
const hourMs = 3_600_000;

const idempotent = encodeRecordBatch({
  records: [{ key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 5 }],
  producerId: 7,
  producerEpoch: 1,
  baseSequence: 3,
});

describe('validateProducedRecordSet (the LogValidator)', () => {
  it("refuses a client's control batch and reads a coordinator's marker type", () => {
    const marker = encodeTransactionMarkerBatch(
      { producerId: 4, producerEpoch: 1, commit: false, coordinatorEpoch: 2 },
      10,
    );
    expect(() => validateProducedRecordSet(Buffer.from(marker), config({}), 0)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_RECORD }),
    );
    const info = validateProducedRecordSet(Buffer.from(marker), config({}), 0, { origin: 'coordinator' });
    expect(info.batches[0]).toMatchObject({
      isControl: true,
      producerId: 4,
      markerCommits: false,
      markerCoordinatorEpoch: 2,
    });
    expect(info.hasProducerState).toBe(true);
  });

  it('describes every batch once: where it lies, its records, timestamps and producer fields', () => {
    const plain = batchOf(['a', 'b', 'c'], { timestampMs: 100 });
    const set = Buffer.concat([plain, idempotent]);
    const info = validateProducedRecordSet(set, config({}), 999);
    expect(info.records).toBe(set);
    expect(info.recordCount).toBe(4);
    expect(info.logAppendTimeMs).toBe(-1);
    expect(info.hasProducerState).toBe(true);
    expect(info.batches).toEqual([
      {
        position: 0,
        sizeBytes: plain.length,
        lastOffsetDelta: 2,
        maxTimestamp: 102,
        recordCount: 3,
        producerId: -1,
        producerEpoch: -1,
        baseSequence: -1,
        isTransactional: false,
        isControl: false,
        markerCommits: null,
        markerCoordinatorEpoch: -1,
      },
      {
        position: plain.length,
        sizeBytes: idempotent.length,
        lastOffsetDelta: 0,
        maxTimestamp: 5,
        recordCount: 1,
        producerId: 7,
        producerEpoch: 1,
        baseSequence: 3,
        isTransactional: false,
        isControl: false,
        markerCommits: null,
        markerCoordinatorEpoch: -1,
      },
    ]);
    expect(validateProducedRecordSet(plain, config({}), 0).hasProducerState).toBe(false);
  });

  it('stamps LogAppendTime in the same pass: the time, the attribute bit and a CRC that still holds', () => {
    const set = Buffer.concat([batchOf(['a']), batchOf(['b', 'c'])]);
    const info = validateProducedRecordSet(set, config({ messageTimestampType: 'LogAppendTime' }), 4_242);
    expect(info.logAppendTimeMs).toBe(4_242);
    for (const batch of info.batches) {
      expect(batch.maxTimestamp).toBe(4_242);
      const header = validateBatch(info.records, batch.position, info.records.length);
      expect(header).toMatchObject({ maxTimestamp: 4_242, timestampType: TimestampType.LogAppendTime });
    }
  });

  describe("a client's batch marked LogAppendTime on a CreateTime topic (Kafka's LogValidator)", () => {
    const nowMs = 1_700_000_000_000;
    const marked = (appendTime: number) =>
      encodeRecordBatch({
        records: [0, 5].map((delta) => ({ key: null, value: Buffer.from('v'), timestamp: 1_000 + delta })),
        timestampType: TimestampType.LogAppendTime,
        logAppendTime: appendTime,
      });

    it('is taken with the topic type: the bit cleared, its maxTimestamp kept, a CRC that holds', () => {
      const info = validateProducedRecordSet(marked(nowMs - 10), config({}), nowMs);
      expect(info.logAppendTimeMs).toBe(-1);
      expect(info.batches[0]!.maxTimestamp).toBe(nowMs - 10);
      const header = validateBatch(info.records, 0, info.records.length);
      expect(header).toMatchObject({ timestampType: TimestampType.CreateTime, maxTimestamp: nowMs - 10 });
      // From now on its records read as baseTimestamp + delta, as in Kafka.
      expect(decodeRecordBatch(info.records).records.map((record) => record.timestamp)).toEqual([
        1_000, 1_005,
      ]);
    });

    it("bounds the timestamp its records read as (the batch's maxTimestamp), not their deltas", () => {
      const bounded = { messageTimestampBeforeMaxMs: hourMs };
      // The deltas say 1970; under the bit every record reads as now - 10: accepted.
      expect(() => validateProducedRecordSet(marked(nowMs - 10), config(bounded), nowMs)).not.toThrow();
      // Two hours ago: every record is out of bounds.
      const refused = (() => {
        try {
          validateProducedRecordSet(marked(nowMs - 2 * hourMs), config(bounded), nowMs);
        } catch (error) {
          return error as RecordValidationError;
        }
        throw new Error('accepted');
      })();
      expect(refused).toBeInstanceOf(RecordValidationError);
      expect(refused.code).toBe(ErrorCode.INVALID_TIMESTAMP);
      expect(refused.recordErrors.map((error) => error.batchIndex)).toEqual([0, 1]);
    });

    it('recompressed, keeps the timestamps its records read as, under CreateTime', () => {
      const info = validateProducedRecordSet(marked(nowMs - 10), config({ compressionType: 'gzip' }), nowMs);
      const decoded = decodeRecordBatch(info.records);
      expect(decoded.header).toMatchObject({
        timestampType: TimestampType.CreateTime,
        compression: CompressionType.Gzip,
        maxTimestamp: nowMs - 10,
      });
      expect(decoded.records.map((record) => record.timestamp)).toEqual([nowMs - 10, nowMs - 10]);
    });
  });

  it('stores batches in the topic codec, describing them as stored', () => {
    const gzipped = batchOf(['x', 'y'], { compression: CompressionType.Gzip });
    const plain = batchOf(['z']);
    const info = validateProducedRecordSet(
      Buffer.concat([plain, gzipped]),
      config({ compressionType: 'lz4' }),
      batchOfTimeMs,
    );
    expect(info.records).not.toBe(plain);
    let position = 0;
    for (const batch of info.batches) {
      expect(batch.position).toBe(position);
      const header = validateBatch(info.records, batch.position, info.records.length);
      expect(header.compression).toBe(CompressionType.Lz4);
      expect(header.sizeBytes).toBe(batch.sizeBytes);
      position += batch.sizeBytes;
    }
    expect(position).toBe(info.records.length);
    expect(readBatchHeader(info.records, info.batches[1]!.position).recordsCount).toBe(2);
  });

  it('refuses the whole set for one bad batch: corrupt, too large, or keyless on a compacted topic', () => {
    const good = batchOf(['a']);
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 1]! ^= 0xff;
    const refusal = (records: Buffer, overrides: Partial<LogConfig>) => {
      try {
        validateProducedRecordSet(records, config(overrides), batchOfTimeMs);
      } catch (error) {
        return (error as KafkaError).code;
      }
      return ErrorCode.NONE;
    };
    expect(refusal(Buffer.concat([good, corrupt]), {})).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(refusal(Buffer.alloc(0), {})).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(refusal(good, { maxMessageBytes: good.length - 1 })).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(refusal(Buffer.concat([idempotent, good]), { cleanupPolicy: ['compact'] })).toBe(
      ErrorCode.INVALID_RECORD,
    );
  });

  it('names the keyless records on a compacted topic by their index in the first batch that has any', () => {
    const keyed = (value: string) => ({ key: Buffer.from(value), value: Buffer.from(value), timestamp: 1 });
    const keyless = (value: string) => ({ key: null, value: Buffer.from(value), timestamp: 1 });
    const first = encodeRecordBatch({ records: [keyed('a'), keyed('b')] });
    const second = encodeRecordBatch({ records: [keyless('c'), keyed('d'), keyless('e')] });
    const third = encodeRecordBatch({ records: [keyless('f')] });
    const refusal = (() => {
      try {
        validateProducedRecordSet(
          Buffer.concat([first, second, third]),
          config({ cleanupPolicy: ['compact'] }),
          0,
          {
            topicPartition: 'changelog-0',
          },
        );
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(RecordValidationError);
    expect((refusal as RecordValidationError).code).toBe(ErrorCode.INVALID_RECORD);
    expect((refusal as RecordValidationError).recordErrors).toEqual(
      [0, 2].map((batchIndex) => ({
        batchIndex,
        message: 'Compacted topic cannot accept message without key in topic partition changelog-0.',
      })),
    );
    // The same set on a topic that is not compacted is accepted whole.
    const info = validateProducedRecordSet(Buffer.concat([first, second, third]), config({}), 0);
    expect(info.recordCount).toBe(6);
  });

  describe('message.timestamp.before.max.ms / after.max.ms (KIP-937)', () => {
    const at = (timestamp: number) => ({ key: Buffer.from('k'), value: Buffer.from('v'), timestamp });
    const refusalOf = (records: Buffer, overrides: Partial<LogConfig>, nowMs: number) => {
      try {
        validateProducedRecordSet(records, config(overrides), nowMs, { topicPartition: 'events-2' });
      } catch (error) {
        return error;
      }
      return undefined;
    };

    it("refuses a CreateTime set for records stamped outside the bounds around the caller's time", () => {
      const nowMs = 1_700_000_000_000;
      const good = encodeRecordBatch({ records: [at(nowMs - 10), at(nowMs)] });
      const bad = encodeRecordBatch({
        records: [at(nowMs), at(nowMs - 2 * hourMs), at(nowMs - 30 * hourMs)],
      });
      const bounded = { messageTimestampBeforeMaxMs: hourMs };
      const refusal = refusalOf(Buffer.concat([good, bad]), bounded, nowMs) as RecordValidationError;
      expect(refusal).toBeInstanceOf(RecordValidationError);
      expect(refusal.code).toBe(ErrorCode.INVALID_TIMESTAMP);
      // Indexes into the batch that has them (the second), with Kafka's message.
      expect(refusal.recordErrors).toEqual(
        [1, 2].map((batchIndex) => ({
          batchIndex,
          message: expect.stringMatching(
            new RegExp(
              `^Timestamp \\d+ of message with offset ${batchIndex} is out of range. The timestamp should be within \\[${nowMs - hourMs}, ${nowMs + hourMs}\\]$`,
            ),
          ),
        })),
      );
      // The bound is the topic's: a wider one takes the whole set.
      expect(refusalOf(Buffer.concat([good, bad]), { messageTimestampBeforeMaxMs: 31 * hourMs }, nowMs)).toBe(
        undefined,
      );
      // The time is the caller's: two hours earlier, the good batch is more than an hour ahead.
      expect((refusalOf(good, bounded, nowMs - 2 * hourMs) as KafkaError).code).toBe(
        ErrorCode.INVALID_TIMESTAMP,
      );
      expect(refusalOf(good, bounded, nowMs)).toBeUndefined();
    });

    it('leaves a LogAppendTime topic unchecked: its timestamps are overwritten with the append time', () => {
      const nowMs = 1_700_000_000_000;
      const old = encodeRecordBatch({ records: [at(0), at(nowMs + 100 * hourMs)] });
      const info = validateProducedRecordSet(
        old,
        config({
          messageTimestampType: 'LogAppendTime',
          messageTimestampBeforeMaxMs: hourMs,
          messageTimestampAfterMaxMs: hourMs,
        }),
        nowMs,
      );
      expect(info.batches[0]!.maxTimestamp).toBe(nowMs);
    });

    it("has Kafka 4's defaults: no bound on the past, one hour on the future", () => {
      const nowMs = 1_700_000_000_000;
      expect(defaultLogConfig.messageTimestampAfterMaxMs).toBe(hourMs);
      expect(refusalOf(encodeRecordBatch({ records: [at(0)] }), {}, nowMs)).toBeUndefined();
      expect(refusalOf(encodeRecordBatch({ records: [at(nowMs + hourMs)] }), {}, nowMs)).toBeUndefined();
      const ahead = refusalOf(encodeRecordBatch({ records: [at(nowMs + hourMs + 1)] }), {}, nowMs);
      expect((ahead as KafkaError).code).toBe(ErrorCode.INVALID_TIMESTAMP);
    });
  });
});
