// run()'s Fetch sent ahead, over a scripted broker whose log never ends (every Fetch brings three
// records of `orders`' one partition): the next Fetch goes out while eachBatch / eachMessage still
// runs, from past what the last one brought, and no further ahead than that one Fetch; its answer
// is dropped when the position it was sent for is not where the handler left the partition
// (records not resolved, a seek, a pause), so no record is skipped.

import { waitFor } from '@gregor/ground/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { sleep } from '../retry.js';
import {
  endlessFetchAnswer,
  type ScriptedFetchBody,
  ScriptedGroupCluster,
} from '../testing/scripted-group-cluster.js';
import { Consumer, type ConsumerConfig } from './consumer.js';

const recordsPerFetch = 3;

class EndlessBroker extends ScriptedGroupCluster {
  /** The fetch offset of each Fetch, in the order they came. */
  readonly fetchOffsets: bigint[] = [];
  /** Each Fetch's maxBytes and its partition's partitionMaxBytes. */
  readonly sizes: [number, number][] = [];
  constructor() {
    super(new Map([['orders', [0]]]));
  }
  protected fetch(body: ScriptedFetchBody): unknown {
    for (const topic of body.topics) {
      for (const { fetchOffset, partitionMaxBytes } of topic.partitions) {
        this.fetchOffsets.push(fetchOffset);
        this.sizes.push([body.maxBytes, partitionMaxBytes]);
      }
    }
    return endlessFetchAnswer(body, recordsPerFetch, 100n);
  }
}

let consumer: Consumer | undefined;
afterEach(async () => {
  await consumer?.disconnect();
  consumer = undefined;
});

async function setUp(config: Partial<ConsumerConfig> = {}) {
  const broker = new EndlessBroker();
  consumer = new Consumer(
    broker as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    { groupId: 'readers', maxWaitTimeInMs: 10, heartbeatInterval: 60_000, ...config },
  );
  await consumer.connect();
  await consumer.subscribe({ topic: 'orders' });
  return { broker, consumer };
}

async function until(what: string, condition: () => boolean): Promise<void> {
  await waitFor(what, () => condition() || undefined, { timeoutMs: 5_000, intervalMs: 1 });
}

describe('run() fetches ahead', () => {
  it('sends the next Fetch, from past the batch, while eachBatch runs, and no more than that one', async () => {
    const { broker, consumer } = await setUp();
    const handed: string[][] = [];
    let release: (() => void) | undefined;
    await consumer.run({
      eachBatch: async ({ batch }) => {
        handed.push(batch.messages.map((message) => message.offset));
        if (handed.length === 1) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    await until('the first batch in eachBatch', () => release !== undefined);
    // eachBatch holds the first batch: the second Fetch is out already, from offset 3.
    await until('the Fetch sent ahead', () => broker.fetchOffsets.length >= 2);
    await sleep(30);
    expect(broker.fetchOffsets).toEqual([0n, 3n]);
    release!();
    await until('four batches', () => handed.length >= 4);
    // The answer fetched ahead is what eachBatch got next: each record once, in order.
    expect(handed.slice(0, 4)).toEqual([
      ['0', '1', '2'],
      ['3', '4', '5'],
      ['6', '7', '8'],
      ['9', '10', '11'],
    ]);
  });

  it('drops what was fetched ahead when eachBatch left records unresolved, and hands them on again', async () => {
    const { consumer } = await setUp();
    const handed: string[][] = [];
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        handed.push(batch.messages.map((message) => message.offset));
        // The first time, only offset 0 is resolved: 1 and 2 must come again, before 3.
        if (handed.length === 1) resolveOffset('0');
        else resolveOffset(batch.lastOffset());
      },
    });
    await until('three batches', () => handed.length >= 3);
    expect(handed.slice(0, 3)).toEqual([
      ['0', '1', '2'],
      ['1', '2', '3'],
      ['4', '5', '6'],
    ]);
  });

  it('drops what was fetched ahead after a seek back in eachMessage', async () => {
    const { consumer } = await setUp();
    const handed: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        handed.push(message.offset);
        if (handed.length === 5) consumer.seek({ topic: 'orders', partition: 0, offset: '1' });
      },
    });
    await until('eight records', () => handed.length >= 8);
    // After the seek at offset 4: offset 1 on again, not 6 on from the Fetch sent ahead.
    expect(handed.slice(0, 8)).toEqual(['0', '1', '2', '3', '4', '1', '2', '3']);
  });
});

describe('Fetch sizes', () => {
  it("asks up to the Fetch's maxBytes for a partition unless maxBytesPerPartition says less", async () => {
    const sizesWith = async (config: Partial<ConsumerConfig>) => {
      const { broker, consumer } = await setUp(config);
      await consumer.run({ eachBatch: async () => undefined });
      await until('a Fetch', () => broker.sizes.length >= 1);
      await consumer.disconnect();
      return broker.sizes[0];
    };
    expect(await sizesWith({})).toEqual([10_485_760, 10_485_760]);
    expect(await sizesWith({ maxBytes: 4_000_000 })).toEqual([4_000_000, 4_000_000]);
    expect(await sizesWith({ maxBytesPerPartition: 1_048_576 })).toEqual([10_485_760, 1_048_576]);
  });
});
