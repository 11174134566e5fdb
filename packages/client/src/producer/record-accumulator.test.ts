import type { RecordInput } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { SendTracker } from './producer-batch.js';
import { partitionKey, RecordAccumulator } from './record-accumulator.js';

const limits = { batchSizeBytes: 16_384, lingerMs: 2, bufferMemoryBytes: 1 << 20 };
const key = partitionKey('events', 0);

const record = (value: string): RecordInput => ({
  key: null,
  value: Buffer.from(value),
  headers: [],
  timestamp: 0,
});

function appendValue(accumulator: RecordAccumulator, value: string, tracker: SendTracker) {
  tracker.add(1);
  return accumulator.append('events', 0, -1, 0, record(value), 30, tracker, 0);
}

describe('RecordAccumulator', () => {
  it('appends to the open batch at the end of the partition queue', () => {
    const accumulator = new RecordAccumulator(limits);
    const tracker = new SendTracker();
    const first = appendValue(accumulator, 'a', tracker);
    expect(appendValue(accumulator, 'b', tracker)).toBe(first);
    expect(first.records.map((record) => String(record.value))).toEqual(['a', 'b']);
  });

  it('never adds a record to a batch that was sent and came back for a retry', async () => {
    // The leader died under the only batch of the partition: it comes back alone to the queue while
    // new sends go on. Were a new record added to it, it would be acknowledged with the batch's old
    // encoding, which never held it.
    const accumulator = new RecordAccumulator(limits);
    const sent = appendValue(accumulator, 'before', new SendTracker());
    expect(accumulator.takeHead(key)).toBe(sent);
    expect(accumulator.queues.has(key)).toBe(false);
    const onTheWire = sent.encode();
    accumulator.requeueFront([sent]);

    const later = new SendTracker();
    const next = appendValue(accumulator, 'after', later);
    later.seal();
    expect(next).not.toBe(sent);
    expect(sent.records.map((record) => String(record.value))).toEqual(['before']);
    expect(sent.encode()).toBe(onTheWire);
    expect(accumulator.queues.get(key)).toEqual([sent, next]);

    // The retry's acknowledgement settles nothing of the later send.
    sent.succeed(10n, -1n, 0n);
    let laterSettled = false;
    void later.done.then(() => {
      laterSettled = true;
    });
    await Promise.resolve();
    expect(laterSettled).toBe(false);
  });

  it('closes a batch taken to be sent, so the next record starts a new one', () => {
    const accumulator = new RecordAccumulator(limits);
    const tracker = new SendTracker();
    const sent = appendValue(accumulator, 'a', tracker);
    accumulator.takeHead(key);
    expect(sent.closed).toBe(true);
    expect(appendValue(accumulator, 'b', tracker)).not.toBe(sent);
  });

  it('refuses a record appended to an encoded batch instead of acknowledging it unsent', () => {
    const accumulator = new RecordAccumulator(limits);
    const tracker = new SendTracker();
    const batch = appendValue(accumulator, 'a', tracker);
    batch.encode();
    expect(() => batch.append(record('b'), 30, tracker)).toThrow(/closed batch/);
  });
});
