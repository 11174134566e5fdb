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

  it('keeps each partition of each topic to its own queue when records alternate between them', () => {
    // The accumulator remembers the last record's partition key: a change of topic or of partition
    // alone must not reuse it.
    const accumulator = new RecordAccumulator(limits);
    const tracker = new SendTracker();
    const targets: [string, number][] = [
      ['events', 0],
      ['events', 1],
      ['events', 0],
      ['audit', 1],
      ['audit', 0],
      ['events', 1],
    ];
    for (const [index, [topic, partition]] of targets.entries()) {
      tracker.add(1);
      accumulator.append(topic, partition, -1, 0, record(`${topic}-${partition}-${index}`), 30, tracker, 0);
    }
    const values = (topic: string, partition: number) =>
      accumulator.queues
        .get(partitionKey(topic, partition))!
        .flatMap((batch) => batch.records.map((r) => String(r.value)));
    expect(values('events', 0)).toEqual(['events-0-0', 'events-0-2']);
    expect(values('events', 1)).toEqual(['events-1-1', 'events-1-5']);
    expect(values('audit', 1)).toEqual(['audit-1-3']);
    expect(values('audit', 0)).toEqual(['audit-0-4']);
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

describe('ProducerBatch.split', () => {
  it('hands records, owners, memory and the sequence range to pieces of at most the limit, in order', async () => {
    const accumulator = new RecordAccumulator(limits);
    const first = new SendTracker();
    const second = new SendTracker();
    for (const value of ['a', 'b', 'c']) appendValue(accumulator, value, first);
    for (const value of ['d', 'e']) appendValue(accumulator, value, second);
    first.seal();
    second.seal();
    const batch = accumulator.takeHead(key)!;
    batch.assignSequence(7n, 0, 40, false);
    const reserved = batch.reservedBytes;
    // A header of 61 bytes and records of 30: a limit of 125 takes two records a piece.
    const pieces = batch.split(125);
    expect(pieces.map((piece) => piece.records.map((record) => String(record.value)))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    expect(pieces.map((piece) => piece.baseSequence)).toEqual([40, 42, 44]);
    expect(pieces.every((piece) => piece.producerId === 7n && piece.closed)).toBe(true);
    expect(pieces.reduce((sum, piece) => sum + piece.reservedBytes, 0)).toBe(reserved);
    expect(batch.reservedBytes).toBe(0);
    expect(pieces[1]!.owners.map((owner) => [owner.tracker, owner.count])).toEqual([
      [first, 1],
      [second, 1],
    ]);

    // The first send settles with the first two pieces; the old batch once all three have.
    let batchSettled = false;
    void batch.settled.then(() => {
      batchSettled = true;
    });
    pieces[0]!.succeed(0n, -1n, 0n);
    pieces[1]!.succeed(2n, -1n, 0n);
    await first.done;
    expect(first.delivered.get(key)?.baseOffset).toBe('0');
    expect(second.delivered.get(key)?.baseOffset).toBe('3');
    await Promise.resolve();
    expect(batchSettled).toBe(false);
    pieces[2]!.succeed(4n, -1n, 0n);
    await second.done;
    await batch.settled;
  });

  it('refuses to split a batch that may have been written', () => {
    const accumulator = new RecordAccumulator(limits);
    const tracker = new SendTracker();
    appendValue(accumulator, 'a', tracker);
    const batch = appendValue(accumulator, 'b', tracker);
    batch.possiblyWritten = true;
    expect(() => batch.split(100)).toThrow(/unwritten/);
  });
});

describe('RecordAccumulator learned batch limits', () => {
  it("halves a topic's batches after a refusal and starts new batches at the learned size", () => {
    const accumulator = new RecordAccumulator(limits);
    expect(accumulator.batchSizeFor('events')).toBe(16_384);
    expect(accumulator.learnBatchLimit('events', 10_000)).toBe(5_000);
    // A larger refused batch does not raise it again; other topics keep batchSize.
    expect(accumulator.learnBatchLimit('events', 12_000)).toBe(5_000);
    expect(accumulator.batchSizeFor('other')).toBe(16_384);
    const tracker = new SendTracker();
    expect(accumulator.learnBatchLimit('events', 250)).toBe(125);
    const first = appendValue(accumulator, 'a', tracker);
    expect(appendValue(accumulator, 'b', tracker)).toBe(first);
    // 61 + 30 + 30 = 121 fits 125, a third record would not: it starts a new batch.
    expect(appendValue(accumulator, 'c', tracker)).not.toBe(first);
  });
});
