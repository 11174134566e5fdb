// A Fetch whose records are all left out (a transaction marker alone; an aborted transaction and
// its abort marker) hands nothing on, but moves the position past them, resolves and commits it
// (so the group's offset and lag reach the end of the log), and says so with kafkajs's
// START/END_BATCH_PROCESS of a batch of size 0, as kafkajs does (its #1256).

import { waitFor } from '@gregor/ground/testing';
import {
  encodeRecordBatch,
  encodeTransactionMarkerBatch,
  setBatchBaseOffsetAndEpoch,
} from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import type { InstrumentationEvent } from '../instrumentation.js';
import { createLogger, logLevel } from '../logger.js';
import { type ScriptedFetchBody, ScriptedGroupCluster } from '../testing/scripted-group-cluster.js';
import { Consumer, type ConsumerRunConfig } from './consumer.js';
import { consumerEvents } from './instrumentation.js';

const producerId = 9;
const highWatermark = 4n;

function marker(offset: number, commit: boolean): Buffer {
  const batch = encodeTransactionMarkerBatch(
    { producerId, producerEpoch: 0, commit, coordinatorEpoch: 0 },
    1_000,
  );
  setBatchBaseOffsetAndEpoch(batch, 0, offset, 0);
  return batch;
}

/**
 * Partition 0 of `orders`: offset 0 a commit marker (of an empty transaction), offsets 1-2 a
 * transaction that was aborted, 3 its abort marker; nothing after.
 */
class MarkersOnly extends ScriptedGroupCluster {
  readonly commits: bigint[] = [];
  readonly fetchOffsets: bigint[] = [];
  constructor() {
    super(new Map([['orders', [0]]]));
  }
  protected override offsetCommit(body: Record<string, unknown>): unknown {
    const topics = body.topics as { partitions: { committedOffset: bigint }[] }[];
    this.commits.push(topics[0]!.partitions[0]!.committedOffset);
    return { topics: [] };
  }
  protected fetch(body: ScriptedFetchBody): unknown {
    const { partition, fetchOffset } = body.topics[0]!.partitions[0]!;
    this.fetchOffsets.push(fetchOffset);
    let records: Buffer = Buffer.alloc(0);
    let abortedTransactions: { producerId: bigint; firstOffset: bigint }[] | null = null;
    if (fetchOffset === 0n) records = marker(0, true);
    if (fetchOffset === 1n) {
      const aborted = encodeRecordBatch({
        baseOffset: 1,
        records: [
          { key: null, value: Buffer.from('never'), timestamp: 1_000 },
          { key: null, value: Buffer.from('seen'), timestamp: 1_000 },
        ],
        producerId,
        producerEpoch: 0,
        baseSequence: 0,
        isTransactional: true,
      });
      records = Buffer.concat([aborted, marker(3, false)]);
      abortedTransactions = [{ producerId: BigInt(producerId), firstOffset: 1n }];
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 'orders',
          partitions: [
            { partitionIndex: partition, errorCode: 0, highWatermark, abortedTransactions, records },
          ],
        },
      ],
    };
  }
}

/** What the handlers were given: nothing, in every test. */
const handed: string[] = [];
let consumer: Consumer | undefined;
afterEach(async () => {
  await consumer?.disconnect();
  consumer = undefined;
});

async function consume(handlers: Partial<ConsumerRunConfig>) {
  const broker = new MarkersOnly();
  consumer = new Consumer(
    broker as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    {
      groupId: 'readers',
      maxWaitTimeInMs: 5,
      heartbeatInterval: 5,
    },
  );
  const events: InstrumentationEvent<Record<string, unknown>>[] = [];
  for (const name of [consumerEvents.START_BATCH_PROCESS, consumerEvents.END_BATCH_PROCESS]) {
    consumer.on(name, (event) => {
      events.push(event as unknown as InstrumentationEvent<Record<string, unknown>>);
    });
  }
  await consumer.subscribe({ topic: 'orders' });
  await consumer.run({ autoCommitThreshold: 1, ...handlers });
  await waitFor('the offset past the abort marker committed', () => broker.commits.includes(4n), {
    timeoutMs: 5_000,
  });
  return { broker, events };
}

const markerBatch = {
  topic: 'orders',
  partition: 0,
  highWatermark: '4',
  offsetLag: '3',
  offsetLagLow: '3',
  batchSize: 0,
  firstOffset: '0',
  lastOffset: '0',
};
const abortedBatch = { ...markerBatch, offsetLag: '0', offsetLagLow: '2', firstOffset: '1', lastOffset: '3' };

describe('batches of markers and aborted records only', () => {
  it.each([
    [
      'eachMessage',
      {
        eachMessage: async () => {
          handed.push('message');
        },
      },
    ],
    [
      'eachBatch',
      {
        eachBatch: async () => {
          handed.push('batch');
        },
      },
    ],
  ] as const)(
    'with %s: nothing handed on, START/END_BATCH_PROCESS of size 0, offsets committed past them',
    async (_, handlers) => {
      handed.length = 0;
      const { broker, events } = await consume(handlers);
      expect(handed).toEqual([]);
      expect(broker.commits.slice(0, 2)).toEqual([1n, 4n]);
      expect(events.slice(0, 4).map(({ type, payload }) => ({ type, payload }))).toEqual([
        { type: consumerEvents.START_BATCH_PROCESS, payload: markerBatch },
        { type: consumerEvents.END_BATCH_PROCESS, payload: { ...markerBatch, duration: expect.any(Number) } },
        { type: consumerEvents.START_BATCH_PROCESS, payload: abortedBatch },
        {
          type: consumerEvents.END_BATCH_PROCESS,
          payload: { ...abortedBatch, duration: expect.any(Number) },
        },
      ]);
      // Nothing more was read: an empty fetch is not a batch.
      expect(events).toHaveLength(4);
    },
  );
});

describe('batches of markers and aborted records only, in consumer.batches()', () => {
  it('yields nothing and resolves past them, so stop() commits the end of the log', async () => {
    const broker = new MarkersOnly();
    consumer = new Consumer(
      broker as unknown as Cluster,
      createLogger(logLevel.NOTHING, () => () => undefined),
      {
        groupId: 'readers',
        maxWaitTimeInMs: 5,
        heartbeatInterval: 5,
      },
    );
    await consumer.subscribe({ topic: 'orders' });
    const yielded: unknown[] = [];
    const reading = (async () => {
      for await (const batch of consumer!.batches()) yielded.push(batch);
    })();
    await waitFor('a fetch from past the abort marker', () => broker.fetchOffsets.includes(4n), {
      timeoutMs: 5_000,
    });
    await consumer.stop();
    await reading;
    expect(yielded).toEqual([]);
    expect(broker.commits.at(-1)).toBe(4n);
  });
});
