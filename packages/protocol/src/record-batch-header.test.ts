import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, KafkaError } from './errors.js';
import { readInt64AsNumber, writeInt64FromNumber } from './record-batch-header.js';

describe('int64 as number', () => {
  it('round-trips every safe integer through the big-endian int64 layout', () => {
    const buffer = Buffer.alloc(8);
    for (const value of [0, -1, 1, 2 ** 32, -(2 ** 32), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      writeInt64FromNumber(buffer, 0, value);
      expect(buffer.readBigInt64BE(0)).toBe(BigInt(value));
      expect(readInt64AsNumber(buffer, 0)).toBe(value);
    }
    fc.assert(
      fc.property(fc.maxSafeInteger(), (value) => {
        writeInt64FromNumber(buffer, 0, value);
        expect(buffer.readBigInt64BE(0)).toBe(BigInt(value));
        expect(readInt64AsNumber(buffer, 0)).toBe(value);
      }),
    );
  });

  it('refuses int64 values a number cannot hold exactly, including -2^53', () => {
    const buffer = Buffer.alloc(8);
    for (const value of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) {
      buffer.writeBigInt64BE(value, 0);
      try {
        readInt64AsNumber(buffer, 0);
        expect.fail(`accepted ${value}`);
      } catch (error) {
        expect(error).toBeInstanceOf(KafkaError);
        expect((error as KafkaError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
      }
    }
  });
});
