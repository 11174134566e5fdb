// consumer.batches() over a scripted broker whose log never ends (every Fetch brings three more
// records per partition): the loop's pace bounds what is fetched, batches come in offset order per
// partition, only what the loop finished is committed, and stop() or break ends the loop.

import { waitFor } from '@gregor/ground/testing';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { sleep } from '../retry.js';
import {
  type ScriptedFetchBody,
  ScriptedGroupCluster,
  scriptedRecords,
} from '../testing/scripted-group-cluster.js';
import { BatchQueue } from './batch-queue.js';
import { Consumer, type ConsumerBatch } from './consumer.js';

const partitions = [0, 1];
const recordsPerBatch = 3;

/** One broker, coordinator and leader of `orders` (two partitions, committed offset 0). */
class EndlessBroker extends ScriptedGroupCluster {
  /** Partition batches the broker has answered with, over all Fetches. */
  batchesServed = 0;
  readonly commits: Map<number, bigint>[] = [];
  constructor() {
    super(new Map([['orders', partitions]]), { fetchDelayMs: 1 });
  }
  protected override offsetCommit(body: Record<string, unknown>): unknown {
    const topics = body.topics as { partitions: { partitionIndex: number; committedOffset: bigint }[] }[];
    this.commits.push(
      new Map(topics[0]!.partitions.map((entry) => [entry.partitionIndex, entry.committedOffset])),
    );
    return { topics: [] };
  }
  protected fetch(body: ScriptedFetchBody): unknown {
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: body.topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map(({ partition, fetchOffset }) => {
          this.batchesServed++;
          return {
            partitionIndex: partition,
            errorCode: 0,
            highWatermark: fetchOffset + BigInt(recordsPerBatch) + 100n,
            abortedTransactions: null,
            records: scriptedRecords(partition, fetchOffset, recordsPerBatch),
          };
        }),
      })),
    };
  }
}

function setUp() {
  const broker = new EndlessBroker();
  const consumer = new Consumer(
    broker as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    {
      groupId: 'readers',
      maxWaitTimeInMs: 10,
      heartbeatInterval: 60_000,
    },
  );
  return { broker, consumer };
}

async function until(condition: () => boolean): Promise<void> {
  await waitFor(String(condition), condition, { timeoutMs: 5_000, intervalMs: 1 });
}

describe('BatchQueue', () => {
  it('makes push() wait while maxItems are queued, hands items on in order, and refuses pushes once closed', async () => {
    const queue = new BatchQueue<number>(2);
    expect(await queue.push(1)).toBe(true);
    expect(await queue.push(2)).toBe(true);
    let third: boolean | undefined;
    void queue.push(3).then((accepted) => {
      third = accepted;
    });
    await sleep(0);
    expect(third).toBeUndefined();
    expect(queue.length).toBe(2);
    expect(await queue.shift()).toBe(1);
    await until(() => third === true);
    expect(queue.length).toBe(2);
    expect(await queue.shift()).toBe(2);
    expect(await queue.shift()).toBe(3);
    const waiting = queue.shift();
    expect(await queue.push(4)).toBe(true);
    expect(await waiting).toBe(4);
    void queue.push(5);
    void queue.push(6);
    const blocked = queue.push(7);
    queue.close();
    expect(await blocked).toBe(false);
    expect(await queue.shift()).toBeUndefined();
    expect(await queue.push(8)).toBe(false);
  });

  it('ends a waiting reader with the close error', async () => {
    const queue = new BatchQueue<number>(1);
    const reading = queue.shift();
    queue.close(new Error('fenced'));
    await expect(reading).rejects.toThrow('fenced');
  });
});

describe('consumer.batches()', () => {
  it('fetches no further than maxBufferedBatches ahead of the loop, in offset order per partition, and commits only the batches the loop finished', async () => {
    const { broker, consumer } = setUp();
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders' });
    const maxBufferedBatches = 2;
    const next = new Map(partitions.map((partition) => [partition, 0]));
    let taken = 0;
    const finished = new Map<number, bigint>();
    let last: ConsumerBatch | undefined;
    for await (const batch of consumer.batches({ maxBufferedBatches, autoCommitInterval: 60_000 })) {
      taken++;
      // Each partition's records follow on from the last batch's, with no gap and nothing twice.
      expect(batch.topic).toBe('orders');
      expect(batch.messages.map((message) => message.offset)).toEqual(
        Array.from({ length: recordsPerBatch }, (_, index) => String(next.get(batch.partition)! + index)),
      );
      expect(batch.messages[0]!.value!.toString()).toBe(`${batch.partition}:${next.get(batch.partition)}`);
      expect(batch.offsetLag()).toBe('100');
      next.set(batch.partition, next.get(batch.partition)! + recordsPerBatch);
      if (last !== undefined) finished.set(last.partition, BigInt(last.lastOffset()) + 1n);
      last = batch;
      // A slow loop: the consumer fills the queue and one Fetch's batches are in hand, no more.
      await until(() => broker.batchesServed >= taken + maxBufferedBatches);
      // Time for any Fetch beyond the bound to go out (an unbounded loop fetches every millisecond).
      if (taken % 4 === 1) await sleep(25);
      expect(broker.batchesServed).toBeLessThanOrEqual(taken + maxBufferedBatches + partitions.length);
      if (taken === 12) break;
    }
    // break stopped the consumer: it committed what the loop finished (not the batch it broke in,
    // nor what waited in the queue) and left the group.
    expect(broker.apis.at(-1)).toBe('LeaveGroup');
    expect(broker.commits.at(-1)).toEqual(finished);
    expect(finished.get(last!.partition)).toBe(BigInt(last!.firstOffset()));
  });

  it('ends the loop when stop() is called while the fetch loop waits for room', async () => {
    const { broker, consumer } = setUp();
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders' });
    const batches = consumer.batches({ maxBufferedBatches: 1 });
    const first = (await batches.next()).value as ConsumerBatch;
    // Asking for the second marks the first finished.
    const second = (await batches.next()).value as ConsumerBatch;
    expect(second).toBeDefined();
    await until(() => broker.batchesServed >= 4);
    await consumer.stop();
    expect(await batches.next()).toEqual({ done: true, value: undefined });
    expect(broker.apis.at(-1)).toBe('LeaveGroup');
    // Committed: the first batch; not the second, which the loop was in when stop() came.
    const committed = broker.commits.at(-1)!;
    expect(committed.get(first.partition)).toBe(BigInt(first.lastOffset()) + 1n);
    if (second.partition !== first.partition) expect(committed.has(second.partition)).toBe(false);
  });

  it('refuses a second loop while one runs, and run() while batches() runs', async () => {
    const { consumer } = setUp();
    await consumer.connect();
    expect(() => consumer.batches()).toThrow(/subscribe/);
    await consumer.subscribe({ topic: 'orders' });
    const batches = consumer.batches();
    expect(() => consumer.batches()).toThrow(/already running/);
    await expect(consumer.run({ eachBatch: async () => undefined })).rejects.toThrow(/already running/);
    await batches.return!();
  });
});
