// kafkajs's consumer events over a scripted broker (coordinator and leader of `orders`, two
// partitions, every Fetch three records per partition): each event's payload, REBALANCING on a
// heartbeat's REBALANCE_IN_PROGRESS, RECEIVED_UNSUBSCRIBED_TOPICS for an assignment of a topic not
// subscribed to, and the crash of a consumer whose retries are spent: restarted (CRASH restart:
// true, joined again) unless retry.restartOnFailure says no.

import { waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } from '../errors.js';
import type { InstrumentationEvent } from '../instrumentation.js';
import { createLogger, logLevel } from '../logger.js';
import { type RetryOptions, resolveRetry, sleep } from '../retry.js';
import {
  endlessFetchAnswer,
  type ScriptedFetchBody,
  ScriptedGroupCluster,
} from '../testing/scripted-group-cluster.js';
import { Consumer, type ConsumerRunConfig } from './consumer.js';
import { type ConsumerEventName, consumerEvents } from './instrumentation.js';

const recordsPerBatch = 3;

class ScriptedBroker extends ScriptedGroupCluster {
  /** JoinGroup fails with a lost connection while this is positive (each attempt takes one). */
  failingJoins = 0;
  joins = 0;
  constructor() {
    super(new Map([['orders', [0, 1]]]));
  }
  override partitionCount(): number {
    return 2;
  }
  protected override joinGroup(): unknown {
    if (this.failingJoins > 0) {
      this.failingJoins--;
      throw new KafkaJSConnectionError('127.0.0.1:9092: connection closed by the broker');
    }
    this.joins++;
    return { ...(super.joinGroup() as object), generationId: this.joins };
  }
  protected fetch(body: ScriptedFetchBody): unknown {
    return endlessFetchAnswer(body, recordsPerBatch, 10n);
  }
}

let consumer: Consumer | undefined;
afterEach(async () => {
  await consumer?.disconnect();
  consumer = undefined;
});

function setUp(retry?: RetryOptions) {
  const broker = new ScriptedBroker();
  if (retry !== undefined) broker.retry = resolveRetry(retry);
  consumer = new Consumer(
    broker as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    { groupId: 'readers', maxWaitTimeInMs: 10, heartbeatInterval: 5 },
  );
  const events: InstrumentationEvent<Record<string, unknown>>[] = [];
  for (const name of Object.values(consumerEvents) as ConsumerEventName[]) {
    consumer.on(name, (event) => {
      events.push(event as unknown as InstrumentationEvent<Record<string, unknown>>);
    });
  }
  const ofType = (type: string) => events.filter((event) => event.type === type);
  return { broker, consumer, events, ofType };
}

async function run(member: Consumer, config: Partial<ConsumerRunConfig> = {}): Promise<void> {
  await member.subscribe({ topic: 'orders' });
  await member.run({ eachMessage: async () => undefined, ...config });
}

describe('consumer instrumentation events', () => {
  it('CONNECT, GROUP_JOIN, FETCH_START, FETCH, START/END_BATCH_PROCESS, HEARTBEAT, COMMIT_OFFSETS, STOP, DISCONNECT with kafkajs’s payloads', async () => {
    const { consumer: member, ofType } = setUp();
    await member.connect();
    await run(member, { autoCommitInterval: 0 });
    await waitFor('a commit and a heartbeat', () =>
      ofType(consumerEvents.COMMIT_OFFSETS).length > 0 && ofType(consumerEvents.HEARTBEAT).length > 0
        ? true
        : undefined,
    );
    await member.disconnect();
    consumer = undefined;

    expect(ofType(consumerEvents.CONNECT)).toHaveLength(1);
    expect(ofType(consumerEvents.GROUP_JOIN)[0]!.payload).toMatchObject({
      groupId: 'readers',
      memberId: 'member-1',
      memberAssignment: { orders: [0, 1] },
    });
    expect(ofType(consumerEvents.FETCH_START)[0]!.payload).toEqual({ nodeId: 1 });
    const fetch = ofType(consumerEvents.FETCH)[0]!.payload;
    expect(fetch).toMatchObject({ nodeId: 1, numberOfBatches: 2 });
    expect(fetch.duration).toBeGreaterThanOrEqual(0);

    const starts = ofType(consumerEvents.START_BATCH_PROCESS);
    const first = starts.find((event) => event.payload.partition === 0)!;
    expect(first.payload).toEqual({
      topic: 'orders',
      partition: 0,
      highWatermark: '10',
      offsetLag: '7',
      offsetLagLow: '9',
      batchSize: 3,
      firstOffset: '0',
      lastOffset: '2',
    });
    const ends = ofType(consumerEvents.END_BATCH_PROCESS);
    const firstEnd = ends.find((event) => event.payload.partition === 0)!;
    expect(firstEnd.payload).toMatchObject({ ...first.payload });
    expect(firstEnd.payload.duration).toBeGreaterThanOrEqual(0);
    expect(firstEnd.id).toBeGreaterThan(first.id);

    expect(ofType(consumerEvents.HEARTBEAT)[0]!.payload).toEqual({
      groupId: 'readers',
      memberId: 'member-1',
      groupGenerationId: 1,
    });
    const commit = ofType(consumerEvents.COMMIT_OFFSETS)[0]!.payload;
    expect(commit).toMatchObject({ groupId: 'readers', memberId: 'member-1', groupGenerationId: 1 });
    const topics = commit.topics as { topic: string; partitions: { partition: number; offset: string }[] }[];
    expect(topics[0]!.topic).toBe('orders');
    for (const { offset } of topics[0]!.partitions) expect(BigInt(offset) % 3n).toBe(0n);

    expect(ofType(consumerEvents.STOP)).toHaveLength(1);
    expect(ofType(consumerEvents.DISCONNECT)).toHaveLength(1);
    expect(ofType(consumerEvents.CRASH)).toEqual([]);
  });

  it('eachBatch and consumer.batches() have START/END_BATCH_PROCESS too; a manual commitOffsets emits COMMIT_OFFSETS', async () => {
    const batched = setUp();
    await run(batched.consumer, {
      eachMessage: undefined,
      eachBatch: async () => undefined,
      autoCommit: false,
    });
    await waitFor('an eachBatch batch ended', () => batched.ofType(consumerEvents.END_BATCH_PROCESS)[0]);
    await batched.consumer.commitOffsets([{ topic: 'orders', partition: 1, offset: '4' }]);
    expect(batched.ofType(consumerEvents.COMMIT_OFFSETS).at(-1)!.payload.topics).toEqual([
      { topic: 'orders', partitions: [{ partition: 1, offset: '4' }] },
    ]);
    await batched.consumer.disconnect();

    const streamed = setUp();
    await streamed.consumer.subscribe({ topic: 'orders' });
    let taken = 0;
    for await (const batch of streamed.consumer.batches()) {
      expect(batch.messages).toHaveLength(3);
      if (++taken === 2) break;
    }
    // The first batch ended when the loop asked for the second; the second was left by `break`.
    expect(streamed.ofType(consumerEvents.START_BATCH_PROCESS)).toHaveLength(2);
    expect(streamed.ofType(consumerEvents.END_BATCH_PROCESS)).toHaveLength(1);
  });

  it('REBALANCING when a heartbeat says the group rebalances, then GROUP_JOIN again', async () => {
    const { broker, consumer: member, ofType } = setUp();
    await run(member);
    await waitFor('joined', () => ofType(consumerEvents.GROUP_JOIN)[0]);
    broker.heartbeatErrorCode = ErrorCode.REBALANCE_IN_PROGRESS;
    await waitFor('REBALANCING', () => ofType(consumerEvents.REBALANCING)[0]);
    broker.heartbeatErrorCode = ErrorCode.NONE;
    expect(ofType(consumerEvents.REBALANCING)[0]!.payload).toEqual({
      groupId: 'readers',
      memberId: 'member-1',
    });
    await waitFor('joined again', () => ofType(consumerEvents.GROUP_JOIN)[1]);
  });

  it('RECEIVED_UNSUBSCRIBED_TOPICS for an assigned topic not subscribed to, whose partitions are not read', async () => {
    const { broker, consumer: member, ofType } = setUp();
    broker.assignment = new Map([
      ['orders', [0, 1]],
      ['audit', [0]],
    ]);
    await run(member);
    await waitFor('GROUP_JOIN', () => ofType(consumerEvents.GROUP_JOIN)[0]);
    expect(ofType(consumerEvents.RECEIVED_UNSUBSCRIBED_TOPICS)[0]!.payload).toEqual({
      groupId: 'readers',
      generationId: 1,
      memberId: 'member-1',
      assignedTopics: ['orders', 'audit'],
      topicsSubscribed: ['orders'],
      topicsNotSubscribed: ['audit'],
    });
    expect(member.assignments()).toEqual([{ topic: 'orders', partitions: [0, 1] }]);
    expect(ofType(consumerEvents.GROUP_JOIN)[0]!.payload.memberAssignment).toEqual({ orders: [0, 1] });
  });

  it('retries spent: CRASH with restart: true, then it joins and reads again', async () => {
    const { broker, consumer: member, ofType } = setUp({ retries: 1, initialRetryTime: 1, maxRetryTime: 2 });
    // Each join() makes 20 attempts: two of them fail, more than retries (1) allows.
    broker.failingJoins = 40;
    await run(member);
    await waitFor('CRASH', () => ofType(consumerEvents.CRASH)[0]);
    const crash = ofType(consumerEvents.CRASH)[0]!.payload;
    expect(crash).toMatchObject({ groupId: 'readers', restart: true });
    expect(crash.error).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded);
    await waitFor('joined after the restart', () => ofType(consumerEvents.GROUP_JOIN)[0]);
    await waitFor('reads after the restart', () => ofType(consumerEvents.END_BATCH_PROCESS)[0]);
    expect(ofType(consumerEvents.CRASH)).toHaveLength(1);
  });

  it('retry.restartOnFailure resolving false: CRASH with restart: false, and it stays stopped', async () => {
    const asked: Error[] = [];
    const {
      broker,
      consumer: member,
      ofType,
    } = setUp({
      retries: 1,
      initialRetryTime: 1,
      maxRetryTime: 2,
      restartOnFailure: async (error) => {
        asked.push(error);
        return false;
      },
    });
    broker.failingJoins = 40;
    await run(member);
    await waitFor('CRASH', () => ofType(consumerEvents.CRASH)[0]);
    expect(ofType(consumerEvents.CRASH)[0]!.payload).toMatchObject({ restart: false });
    expect(asked[0]).toBe(ofType(consumerEvents.CRASH)[0]!.payload.error);
    const sentAtCrash = broker.apis.length;
    await sleep(30);
    expect(broker.apis.slice(sentAtCrash)).toEqual([]);
    await expect(member.run({ eachMessage: async () => undefined })).rejects.toBeInstanceOf(
      KafkaJSNumberOfRetriesExceeded,
    );
  });

  it('a restartOnFailure that rejects counts as yes, as in kafkajs', async () => {
    const {
      broker,
      consumer: member,
      ofType,
    } = setUp({
      retries: 0,
      initialRetryTime: 1,
      maxRetryTime: 2,
      restartOnFailure: async () => {
        throw new Error('callback failed');
      },
    });
    broker.failingJoins = 20;
    await run(member);
    await waitFor('CRASH', () => ofType(consumerEvents.CRASH)[0]);
    expect(ofType(consumerEvents.CRASH)[0]!.payload).toMatchObject({ restart: true });
    await waitFor('joined after the restart', () => ofType(consumerEvents.GROUP_JOIN)[0]);
  });
});
