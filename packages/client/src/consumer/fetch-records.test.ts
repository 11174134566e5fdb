import { encodeRecordBatch, TimestampType } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { fetchedRecords } from './fetch-records.js';

const record = (value: string) => ({ key: null, value: Buffer.from(value), timestamp: 1_000 });

function batch(
  baseOffset: number,
  values: string[],
  options: { producerId?: number; transactional?: boolean } = {},
) {
  return encodeRecordBatch({
    baseOffset,
    records: values.map(record),
    producerId: options.producerId ?? -1,
    producerEpoch: options.producerId === undefined ? -1 : 0,
    baseSequence: options.producerId === undefined ? -1 : 0,
    isTransactional: options.transactional ?? false,
  });
}

function marker(offset: number, producerId: number, commit: boolean) {
  const key = Buffer.alloc(4);
  key.writeInt16BE(commit ? 1 : 0, 2);
  return encodeRecordBatch({
    baseOffset: offset,
    records: [{ key, value: Buffer.alloc(6), timestamp: 1_000 }],
    producerId,
    producerEpoch: 0,
    baseSequence: -1,
    isTransactional: true,
    isControl: true,
  });
}

describe('fetchedRecords', () => {
  it("says each record's timestamp type: the broker's append time for a LogAppendTime batch", () => {
    const appendTime = encodeRecordBatch({
      baseOffset: 1,
      records: [record('b')],
      timestampType: TimestampType.LogAppendTime,
      logAppendTime: 5_000,
    });
    const { messages } = fetchedRecords(Buffer.concat([batch(0, ['a']), appendTime]), 0n, null);
    expect(messages.map(({ timestamp, timestampType }) => [timestamp, timestampType])).toEqual([
      ['1000', 'CreateTime'],
      ['5000', 'LogAppendTime'],
    ]);
  });

  it('drops records before the fetch offset and moves past the last batch', () => {
    const result = fetchedRecords(Buffer.concat([batch(0, ['a', 'b', 'c']), batch(3, ['d'])]), 2n, null);
    expect(result.messages.map((message) => [message.offset, String(message.value)])).toEqual([
      ['2', 'c'],
      ['3', 'd'],
    ]);
    expect(result.nextOffset).toBe(4n);
  });

  it('leaves out aborted transactions and control records, keeps committed ones', () => {
    const records = Buffer.concat([
      batch(0, ['aborted-1', 'aborted-2'], { producerId: 7, transactional: true }),
      batch(2, ['committed'], { producerId: 8, transactional: true }),
      marker(3, 7, false),
      marker(4, 8, true),
      batch(5, ['after'], { producerId: 7, transactional: true }),
    ]);
    const result = fetchedRecords(records, 0n, [{ producerId: 7n, firstOffset: 0n }]);
    expect(result.messages.map((message) => String(message.value))).toEqual(['committed', 'after']);
    expect(result.nextOffset).toBe(6n);
  });

  it('stops quietly at a partial trailing batch', () => {
    const whole = batch(0, ['a']);
    const partial = batch(1, ['b']).subarray(0, 30);
    const result = fetchedRecords(Buffer.concat([whole, partial]), 0n, null);
    expect(result.messages).toHaveLength(1);
    expect(result.nextOffset).toBe(1n);
  });
});
