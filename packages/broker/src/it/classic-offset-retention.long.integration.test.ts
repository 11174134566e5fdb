// Committed offsets expire as Kafka expires them (offsets.retention.minutes=1, checked every 2 s),
// against three broker processes with `__consumer_offsets` on one partition replicated three ways:
//   - a kafkajs consumer group (classic protocol) keeps its offsets while it has a member, for more
//     than a retention after its last commit, and after the member left until a retention after
//     the group became Empty; then the offsets are gone and so is the group;
//   - kafka-python consumers that assign() partitions and commit without joining (no protocol type)
//     lose each offset a retention after its own commit;
//   - a group that became Empty just before its coordinator was killed is expired by the new one
//     from the time the log says it became Empty;
//   - after a second kill, the next coordinator finds every expired group gone (their tombstones
//     were replicated).
// Offsets are read with kafkajs's admin.fetchOffsets and kafka-python's list_consumer_group_offsets
// (both OffsetFetch). Whenever an offset reads as gone the test checks the retention had passed
// (the broker cannot have decided earlier than the client saw the commit or the leave start); how
// soon after that it goes is bounded only by the waits.

import { execFileSync } from 'node:child_process';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { type Admin, type Consumer, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const topic = 'retained-orders';
const partitionCount = 2;
const recordsPerPartition = 5;
const retentionMs = 60_000;
const checkIntervalMs = 2_000;
/** The group whose member stays beyond a retention, then leaves and expires before the kill. */
const heldGroup = 'retained-held';
/** The group that becomes Empty just before the coordinator is killed. */
const failoverGroup = 'retained-failover';
/** Offsets committed by assign() consumers, one partition 30 s after the other. */
const standaloneGroup = 'retained-standalone';
const standaloneGapMs = 30_000;
/** Bounds on waits: consumption and failover take seconds; an expiry comes a retention plus a cycle late. */
const settleWaitMs = 60_000;
const expiryWaitMs = retentionMs + 60_000;
const pollIntervalMs = 1_000;
const pythonTimeoutMs = 60_000;
const pythonScript = new URL('./python/standalone_offsets.py', import.meta.url).pathname;

let cluster: ProcessCluster;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'offsets.topic.num.partitions': '1',
      'offsets.topic.replication.factor': '3',
      'offsets.retention.minutes': '1',
      'offsets.retention.check.interval.ms': String(checkIntervalMs),
      'group.initial.rebalance.delay.ms': '500',
      'replica.lag.time.max.ms': '3000',
    },
  });
  kafka = new Kafka({
    clientId: 'retention-it',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 1000 },
  });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount, replicationFactor: 3 }] });
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: partitionCount * recordsPerPartition }, (_, index) => ({
      value: `record-${index}`,
      partition: index % partitionCount,
    })),
  });
  await producer.disconnect();
}, 120_000);

afterAll(async () => {
  await admin?.disconnect();
  await cluster?.close();
});

const waitOptions = (timeoutMs: number): WaitForOptions => ({
  timeoutMs,
  intervalMs: pollIntervalMs,
  detail: () => cluster.tail(),
});

function python<T>(command: object): T {
  const output = execFileSync('/usr/bin/python3', [pythonScript], {
    input: JSON.stringify({ bootstrap: cluster.bootstrap, ...command }),
    timeout: pythonTimeoutMs,
    encoding: 'utf8',
  });
  return JSON.parse(output) as T;
}

/** kafka-python's ListConsumerGroupOffsets: "topic:partition" → offset, committed ones only. */
function listedOffsets(groupId: string): Record<string, number> {
  return python<{ offsets: Record<string, number> }>({ op: 'offsets', group: groupId }).offsets;
}

/** kafkajs's OffsetFetch: the committed offset of each partition, -1 for none. */
async function fetchedOffsets(groupId: string): Promise<number[]> {
  const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return [...fetched!.partitions]
    .sort((a, b) => a.partition - b.partition)
    .map((partition) => Number(partition.offset));
}

/**
 * The offsets, checking that any that reads as gone had `expected[p]` committed and may have
 * expired: a retention has passed since `inUseUntilMs[p]` (its commit, or the group's leave).
 */
async function checkedOffsets(
  groupId: string,
  expected: readonly number[],
  inUseUntilMs: readonly number[],
): Promise<number[]> {
  const offsets = await fetchedOffsets(groupId);
  const readAtMs = Date.now();
  offsets.forEach((offset, partition) => {
    if (offset === -1 && expected[partition] !== -1) {
      expect(
        readAtMs - inUseUntilMs[partition]!,
        `${groupId} p${partition} expired early`,
      ).toBeGreaterThanOrEqual(retentionMs);
    } else {
      expect(offset, `${groupId} p${partition}`).toBe(expected[partition]);
    }
  });
  return offsets;
}

async function groupState(groupId: string): Promise<string> {
  const { groups } = await admin.describeGroups([groupId]);
  return groups[0]!.state;
}

/** An Empty group stays until its offsets expired with it, a retention after `emptySinceMs`. */
async function checkEmpty(groupId: string, emptySinceMs: number): Promise<void> {
  const state = await groupState(groupId);
  if (state === 'Dead')
    expect(Date.now() - emptySinceMs, `${groupId} deleted early`).toBeGreaterThanOrEqual(retentionMs);
  else expect(state).toBe('Empty');
}

async function listedGroupIds(): Promise<string[]> {
  return (await admin.listGroups()).groups.map((group) => group.groupId);
}

async function coordinatorId(askNode: number, groupId: string): Promise<number> {
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(askNode).kafkaPort });
  try {
    const found = await connection.call(ApiKey.FindCoordinator, 2, { key: groupId, keyType: 0 });
    return found.errorCode === ErrorCode.NONE ? found.nodeId : -1;
  } finally {
    connection.close();
  }
}

/** A kafkajs group member that has consumed and committed every record. */
async function consumingMember(groupId: string): Promise<Consumer> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ autoCommitInterval: 200, eachMessage: async () => {} });
  await waitFor(
    `${groupId} committed every record`,
    async () => (await fetchedOffsets(groupId)).every((offset) => offset === recordsPerPartition),
    waitOptions(settleWaitMs),
  );
  return consumer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ends = Array(partitionCount).fill(recordsPerPartition) as number[];

/** Kills the coordinator of the offsets partition and waits for another running node to take it over. */
async function killCoordinator(): Promise<number> {
  const askNode = running()[0]!;
  const victim = await coordinatorId(askNode, failoverGroup);
  expect(victim).toBeGreaterThan(0);
  await cluster.kill(victim);
  const survivor = running()[0]!;
  await waitFor(
    'a new coordinator',
    async () => {
      const id = await coordinatorId(survivor, failoverGroup).catch(() => -1);
      return id > 0 && id !== victim;
    },
    waitOptions(settleWaitMs),
  );
  return victim;
}

function running(): number[] {
  return cluster.nodes.filter((node) => node.process !== undefined).map((node) => node.id);
}

// The phases overlap so that their retentions run at the same time: the standalone commits start
// with the consumers, the failover group leaves and its coordinator is killed as soon as both
// groups have committed (the held group's member stays through that failover), and the held group
// leaves a retention after its commit. The tombstones of every expired group are then checked at
// a second new coordinator, once the first killed node is back.
describe('offsets.retention.minutes for classic groups and standalone commits', () => {
  it('keeps offsets while in use and a retention after, then expires them, and a new coordinator agrees', async () => {
    // Standalone commits, 30 s apart: each expires a retention after its own commit.
    const standaloneFlow = (async () => {
      const firstAtMs = Date.now();
      python({ op: 'commit', group: standaloneGroup, topic, partition: 0, offset: 3 });
      await sleep(standaloneGapMs);
      const secondAtMs = Date.now();
      python({ op: 'commit', group: standaloneGroup, topic, partition: 1, offset: 4 });
      expect(listedOffsets(standaloneGroup)).toEqual({ [`${topic}:0`]: 3, [`${topic}:1`]: 4 });
      const committedAt = [firstAtMs, secondAtMs];
      // The first goes while the second, committed 30 s later, is still there.
      await waitFor(
        'the first standalone offset expired, the second not yet',
        async () => (await checkedOffsets(standaloneGroup, [3, 4], committedAt)).join() === '-1,4',
        waitOptions(expiryWaitMs),
      );
      await waitFor(
        'the second standalone offset expired',
        async () => (await checkedOffsets(standaloneGroup, [-1, 4], committedAt)).join() === '-1,-1',
        waitOptions(expiryWaitMs),
      );
    })();

    // Two classic groups consume everything and commit once.
    const [held, failover] = await Promise.all([consumingMember(heldGroup), consumingMember(failoverGroup)]);
    const committedAtMs = Date.now();

    // The failover group becomes Empty, and its coordinator dies right after.
    const failoverLeftAtMs = Date.now();
    await failover.disconnect();
    await checkEmpty(failoverGroup, failoverLeftAtMs);
    const firstVictim = await killCoordinator();
    // The Empty group is back, Empty, and expires a retention after it became Empty.
    await checkEmpty(failoverGroup, failoverLeftAtMs);
    const sinceFailoverLeft = ends.map(() => failoverLeftAtMs);
    await checkedOffsets(failoverGroup, ends, sinceFailoverLeft);
    // Back for the second failover at the end (three voters need two running).
    await cluster.restart(firstVictim);
    const failoverFlow = (async () => {
      await waitFor(
        `${failoverGroup}'s offsets expired at the new coordinator`,
        async () =>
          (await checkedOffsets(failoverGroup, ends, sinceFailoverLeft)).every((offset) => offset === -1),
        waitOptions(expiryWaitMs),
      );
      const goneMs = Date.now() - failoverLeftAtMs;
      expect(await listedGroupIds()).not.toContain(failoverGroup);
      return goneMs;
    })();

    // With its member there, nothing of the held group expires, a retention after the commit too.
    while (Date.now() < committedAtMs + retentionMs + 3 * checkIntervalMs) {
      expect(await fetchedOffsets(heldGroup)).toEqual(ends);
      await sleep(2 * checkIntervalMs);
    }
    expect(await groupState(heldGroup)).toBe('Stable');

    // The member leaves: the offsets stay a retention after the group became Empty.
    const leftAtMs = Date.now();
    await held.disconnect();
    const sinceLeft = ends.map(() => leftAtMs);
    await checkEmpty(heldGroup, leftAtMs);
    await checkedOffsets(heldGroup, ends, sinceLeft);
    const listedAfterLeave = listedOffsets(heldGroup);
    if (Object.keys(listedAfterLeave).length < partitionCount)
      expect(Date.now() - leftAtMs).toBeGreaterThanOrEqual(retentionMs);
    else expect(listedAfterLeave).toEqual({ [`${topic}:0`]: 5, [`${topic}:1`]: 5 });
    await waitFor(
      `${heldGroup}'s offsets expired`,
      async () => (await checkedOffsets(heldGroup, ends, sinceLeft)).every((offset) => offset === -1),
      waitOptions(expiryWaitMs),
    );
    const heldGoneMs = Date.now() - leftAtMs;
    // The group went with its offsets (one batch of tombstones).
    expect(await groupState(heldGroup)).toBe('Dead');
    expect(await listedGroupIds()).not.toContain(heldGroup);
    expect(listedOffsets(heldGroup)).toEqual({});
    await standaloneFlow;
    expect(await listedGroupIds()).not.toContain(standaloneGroup);
    const failoverGoneMs = await failoverFlow;

    // The expired groups stay gone at the next coordinator: it loaded their tombstones.
    await cluster.waitReady();
    const secondKillAtMs = Date.now();
    await killCoordinator();
    const secondFailoverMs = Date.now() - secondKillAtMs;
    expect(await fetchedOffsets(heldGroup)).toEqual([-1, -1]);
    expect(await fetchedOffsets(standaloneGroup)).toEqual([-1, -1]);
    expect(await fetchedOffsets(failoverGroup)).toEqual([-1, -1]);
    const listed = await listedGroupIds();
    expect(listed).not.toContain(heldGroup);
    expect(listed).not.toContain(standaloneGroup);
    expect(listed).not.toContain(failoverGroup);
    console.log(
      `offsets gone ${heldGoneMs} ms after the member left; after the failover ${failoverGoneMs} ms after it left (retention ${retentionMs} ms, cycle ${checkIntervalMs} ms); second failover ${secondFailoverMs} ms`,
    );
  }, 420_000);
});
