// Partition reassignment (KIP-455) on three real broker processes, driven as operators drive it:
// `gregor reassign-partitions` (kafka-reassign-partitions.sh's flags and files) and
// kafkajs's admin (alterPartitionReassignments, listPartitionReassignments), and
// @platformatic/kafka's AlterPartitionReassignments v1 / ListPartitionReassignments v0 codecs (a
// client written without Gregor: kafka-python and librdkafka have no reassignment API;
// its AlterPartitionReassignments v1 reads a response without v1's AllowReplicationFactorChange
// field, which Kafka's schema has, so v0 is the version it can use).
// A partition of replication factor 2 moves off its leader while a producer keeps writing with
// acks=all: the added replica copies the log, takes over, the removed replica's directory goes, and
// every acknowledged record is still there. Waits poll observable state with a bound.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKey } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { configResourceType, ErrorCode, iterateBatches } from '@gregor/protocol';
import { alterPartitionReassignmentsV0, Connection, listPartitionReassignmentsV0 } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionZeroCalls } from '../testing/partition-zero-calls.js';
import { type CliRun, ProcessCluster, runGregorCli } from '../testing/process-cluster.js';

const convergeTimeoutMs = 90_000;
const cliTimeoutMs = 60_000;

const gregor = (...args: string[]): Promise<CliRun> => runGregorCli(args, cliTimeoutMs);

let cluster: ProcessCluster;
const bootstrapOf = (id: number) => `127.0.0.1:${cluster.node(id).kafkaPort}`;
const waitOptions = (): WaitForOptions => ({
  timeoutMs: convergeTimeoutMs,
  intervalMs: 250,
  detail: () => cluster.tail(),
});
const { withConnection, partitionState, createTopic, produce, readAll } = partitionZeroCalls(
  () => cluster,
  waitOptions,
);

/** DescribeConfigs of `keys` of one topic or broker resource, via broker `viaId`: name -> value. */
function describedConfigs(viaId: number, resourceType: number, resourceName: string, keys: string[]) {
  return withConnection(viaId, async (connection) => {
    const response = await connection.call(
      ApiKey.DescribeConfigs,
      1,
      { resources: [{ resourceType, resourceName, configurationKeys: keys }], includeSynonyms: false },
      5_000,
    );
    const result = response.results[0]!;
    expect(result.errorCode).toBe(ErrorCode.NONE);
    return Object.fromEntries(result.configs.map((config) => [config.name, config.value]));
  });
}

const throttledReplicasKeys = [
  'leader.replication.throttled.replicas',
  'follower.replication.throttled.replicas',
];
const throttleRateKeys = ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'];

/** The record values in broker `id`'s own segment files of `topic`-0 (its copy of the log). */
function valuesOnDisk(id: number, topic: string): string[] {
  const dir = join(cluster.node(id).logDir, `${topic}-0`);
  const values: string[] = [];
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .sort()) {
    for (const batch of iterateBatches(readFileSync(join(dir, file)))) {
      for (const record of batch.records) values.push(record.value?.toString() ?? '');
    }
  }
  return values;
}

/** Directories of `topic`-0 (live or being deleted) under broker `id`'s log dir. */
function partitionDirs(id: number, topic: string): string[] {
  return readdirSync(cluster.node(id).logDir).filter((name) => name.startsWith(`${topic}-0`));
}

function writeJson(name: string, document: unknown): string {
  const path = join(cluster.rootDir, name);
  writeFileSync(path, JSON.stringify(document));
  return path;
}

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: { 'auto.leader.rebalance.enable': 'false' },
  });
});
afterAll(async () => {
  await cluster?.close();
});

describe('gregor reassign-partitions', () => {
  it('moves a partition off its leader under acks=all writes: copied, handed over, old copy deleted, nothing lost', async () => {
    // Small segments, so that the added replica copies a log of several segments.
    await createTopic('moving', [1, 2], [{ name: 'segment.bytes', value: '4096' }]);
    const acknowledged: string[] = [];
    for (let round = 0; round < 20; round++) {
      const values = Array.from({ length: 50 }, (_, index) => `before-${round}-${index}`);
      expect(await produce('moving', values)).toBe(true);
      acknowledged.push(...values);
    }
    // A producer keeps writing through the move; a batch refused during the handover is not counted.
    let producing = true;
    let attempted = 0;
    const producer = (async () => {
      for (let round = 0; producing; round++) {
        const values = Array.from({ length: 20 }, (_, index) => `during-${round}-${index}`);
        attempted += 1;
        if (await produce('moving', values).catch(() => false)) acknowledged.push(...values);
      }
    })();

    const plan = writeJson('moving.json', {
      version: 1,
      partitions: [{ topic: 'moving', partition: 0, replicas: [3, 2] }],
    });
    const executed = await gregor(
      'reassign-partitions',
      '--bootstrap-server',
      bootstrapOf(2),
      '--execute',
      '--reassignment-json-file',
      plan,
    );
    expect(executed).toMatchObject({ code: 0, stderr: '' });
    expect(executed.stdout).toContain(
      'Current partition replica assignment\n\n' +
        '{"version":1,"partitions":[{"topic":"moving","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}\n\n' +
        'Save this to use as the --reassignment-json-file option during rollback\n',
    );
    expect(executed.stdout).toContain('Successfully started partition reassignment for moving-0\n');

    const verified = await waitFor(
      'the reassignment completed',
      async () => {
        const run = await gregor(
          'reassign-partitions',
          '--bootstrap-server',
          bootstrapOf(1),
          '--verify',
          '--reassignment-json-file',
          plan,
        );
        return run.stdout.includes('Reassignment of partition moving-0 is completed.') ? run : undefined;
      },
      waitOptions(),
    );
    expect(verified).toMatchObject({ code: 0, stderr: '' });
    expect(verified.stdout).toBe(
      'Status of partition reassignment:\nReassignment of partition moving-0 is completed.\n',
    );
    await waitFor(
      'the producer wrote during the move',
      async () => (attempted > 5 ? true : undefined),
      waitOptions(),
    );
    producing = false;
    await producer;

    // The target replicas hold the partition; 1 was removed, so 3 (first of the target) leads.
    const after = await waitFor(
      'every broker sees replicas [3, 2] and a full ISR',
      async () => {
        const states = await Promise.all(
          [1, 2, 3].map((id) => partitionState(id, 'moving').catch(() => undefined)),
        );
        return states.every((state) => state?.replicas.join() === '3,2' && state.isr.join() === '2,3')
          ? states[0]
          : undefined;
      },
      waitOptions(),
    );
    expect(after!.leaderId).toBe(3);
    const listed = await gregor('reassign-partitions', '--bootstrap-server', bootstrapOf(3), '--list');
    expect(listed).toMatchObject({ code: 0, stdout: 'No partition reassignments found.\n' });

    // The removed replica's directory is gone (renamed, then deleted); the added one copied the log.
    await waitFor(
      'node 1 deleted moving-0',
      async () => (partitionDirs(1, 'moving').length === 0 ? true : undefined),
      waitOptions(),
    );
    expect(partitionDirs(3, 'moving')).toEqual(['moving-0']);
    const segments = readdirSync(join(cluster.node(3).logDir, 'moving-0')).filter((file) =>
      file.endsWith('.log'),
    );
    // A follower appends each fetched chunk whole, so how many segments it rolls depends on how the
    // copy was fetched (one chunk of everything written before the move fills one segment; seen: 3
    // under load, more otherwise); the writes during the move come after it: at least two.
    expect(segments.length).toBeGreaterThan(1);
    const readable = await readAll(3, 'moving');
    expect(readable.length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(new Set(readable)).toEqual(new Set([...readable, ...acknowledged]));
    // Node 3's own segment files hold every record, those written before it was a replica included.
    const onDisk = await waitFor(
      "node 3's log holds what it serves",
      async () => {
        const values = valuesOnDisk(3, 'moving');
        return values.length >= readable.length ? values : undefined;
      },
      waitOptions(),
    );
    expect(onDisk.slice(0, readable.length)).toEqual(readable);
    expect(onDisk.slice(0, 1000)).toEqual(acknowledged.slice(0, 1000));
  });

  it('moves a follower under a replication throttle: the leader stays, the new follower joins the ISR, the old one deletes its copy, --verify lifts the throttle', async () => {
    await createTopic('follower-out', [1, 2]);
    expect(await produce('follower-out', ['f1', 'f2'])).toBe(true);
    const plan = writeJson('follower-out.json', {
      version: 1,
      partitions: [{ topic: 'follower-out', partition: 0, replicas: [1, 3] }],
    });
    const cli = (...args: string[]) =>
      gregor('reassign-partitions', '--bootstrap-server', bootstrapOf(3), ...args);
    const executed = await cli('--execute', '--reassignment-json-file', plan, '--throttle', '1000000');
    expect(executed).toMatchObject({ code: 0, stderr: '' });
    expect(executed.stdout).toContain('The inter-broker throttle limit was set to 1000000 B/s');
    // Set before the reassignment starts and kept until --verify: visible while it runs.
    expect(
      await describedConfigs(2, configResourceType.topic, 'follower-out', throttledReplicasKeys),
    ).toEqual({
      'leader.replication.throttled.replicas': '0:1,0:2',
      'follower.replication.throttled.replicas': '0:3',
    });
    for (const id of [1, 2, 3]) {
      expect(await describedConfigs(id, configResourceType.broker, String(id), throttleRateKeys)).toEqual({
        'leader.replication.throttled.rate': '1000000',
        'follower.replication.throttled.rate': '1000000',
      });
    }
    const state = await waitFor(
      'follower-out-0 on [1, 3] with a full ISR',
      async () => {
        const now = await partitionState(3, 'follower-out');
        return now.replicas.join() === '1,3' && now.isr.join() === '1,3' ? now : undefined;
      },
      waitOptions(),
    );
    expect(state.leaderId).toBe(1);
    await waitFor(
      'node 2 deleted follower-out-0',
      async () => (partitionDirs(2, 'follower-out').length === 0 ? true : undefined),
      waitOptions(),
    );
    expect(await produce('follower-out', ['f3'])).toBe(true);
    expect(await readAll(1, 'follower-out')).toEqual(['f1', 'f2', 'f3']);
    await waitFor(
      "node 3's copy has every record",
      async () => (valuesOnDisk(3, 'follower-out').length === 3 ? true : undefined),
      waitOptions(),
    );
    expect(valuesOnDisk(3, 'follower-out')).toEqual(['f1', 'f2', 'f3']);
    expect(await cli('--verify', '--reassignment-json-file', plan)).toMatchObject({
      code: 0,
      stdout:
        'Status of partition reassignment:\nReassignment of partition follower-out-0 is completed.\n' +
        'Throttle was removed.\n',
    });
    expect(
      await describedConfigs(2, configResourceType.topic, 'follower-out', throttledReplicasKeys),
    ).toEqual({});
    for (const id of [1, 2, 3]) {
      expect(await describedConfigs(id, configResourceType.broker, String(id), throttleRateKeys)).toEqual({
        'leader.replication.throttled.rate': '9223372036854775807',
        'follower.replication.throttled.rate': '9223372036854775807',
      });
    }
  });

  it('--generate prints the current assignment and a proposal over --broker-list', async () => {
    const topics = writeJson('topics.json', { version: 1, topics: [{ topic: 'moving' }] });
    const run = await gregor(
      'reassign-partitions',
      '--bootstrap-server',
      bootstrapOf(1),
      '--generate',
      '--topics-to-move-json-file',
      topics,
      '--broker-list',
      '1,2',
    );
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [currentHeading, currentJson, blank, proposedHeading, proposedJson] = run.stdout
      .trimEnd()
      .split('\n');
    expect([currentHeading, blank, proposedHeading]).toEqual([
      'Current partition replica assignment',
      '',
      'Proposed partition reassignment configuration',
    ]);
    expect(JSON.parse(currentJson!)).toEqual({
      version: 1,
      partitions: [{ topic: 'moving', partition: 0, replicas: [3, 2], log_dirs: ['any', 'any'] }],
    });
    const proposed = JSON.parse(proposedJson!) as { partitions: { replicas: number[] }[] };
    expect(proposed.partitions).toHaveLength(1);
    expect([...proposed.partitions[0]!.replicas].sort()).toEqual([1, 2]);
    const tooFew = await gregor(
      'reassign-partitions',
      '--bootstrap-server',
      bootstrapOf(1),
      '--generate',
      '--topics-to-move-json-file',
      topics,
      '--broker-list',
      '1',
    );
    expect(tooFew).toMatchObject({
      code: 1,
      stderr: 'Error: Replication factor: 2 larger than available brokers: 1.\n',
    });
  });
});

describe('AlterPartitionReassignments / ListPartitionReassignments through @platformatic/kafka and kafkajs', () => {
  it('moves a partition and lists nothing once it is done', async () => {
    await createTopic('by-platformatic', [1, 2]);
    expect(await produce('by-platformatic', ['a', 'b', 'c'])).toBe(true);
    const connection = new Connection('reassign-platformatic');
    await connection.connect('127.0.0.1', cluster.node(2).kafkaPort);
    try {
      const altered = await alterPartitionReassignmentsV0.api.async(connection, 30_000, true, [
        { name: 'by-platformatic', partitions: [{ partitionIndex: 0, replicas: [2, 3] }] },
      ]);
      expect(altered).toMatchObject({
        errorCode: 0,
        responses: [
          { name: 'by-platformatic', partitions: [{ partitionIndex: 0, errorCode: 0, errorMessage: null }] },
        ],
      });
      await waitFor(
        'by-platformatic-0 on [2, 3], listed by nobody',
        async () => {
          const listed = await listPartitionReassignmentsV0.api.async(connection, 30_000, [
            { name: 'by-platformatic', partitionIndexes: [0] },
          ]);
          const state = await partitionState(2, 'by-platformatic');
          return listed.topics.length === 0 && state.replicas.join() === '2,3' ? state : undefined;
        },
        waitOptions(),
      );
      await waitFor(
        'node 1 deleted by-platformatic-0',
        async () => (partitionDirs(1, 'by-platformatic').length === 0 ? true : undefined),
        waitOptions(),
      );
      // A new leader's high watermark catches up once its followers fetch: wait for it.
      await waitFor(
        'by-platformatic readable from its new leader',
        async () =>
          (await readAll(2, 'by-platformatic')).join() === ['a', 'b', 'c'].join() ? true : undefined,
        waitOptions(),
      );
    } finally {
      await connection.close();
    }
  });

  it('kafkajs admin: alterPartitionReassignments moves a partition, listPartitionReassignments shows it until done', async () => {
    await createTopic('by-kafkajs', [1, 3]);
    expect(await produce('by-kafkajs', ['x', 'y'])).toBe(true);
    const admin = new Kafka({
      clientId: 'reassign-kafkajs',
      brokers: [`127.0.0.1:${cluster.node(1).kafkaPort}`],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      await admin.alterPartitionReassignments({
        topics: [{ topic: 'by-kafkajs', partitionAssignment: [{ partition: 0, replicas: [2, 3] }] }],
      });
      await waitFor(
        'by-kafkajs-0 on [2, 3], listed by nobody',
        async () => {
          const listed = await admin.listPartitionReassignments({
            topics: [{ topic: 'by-kafkajs', partitions: [0] }],
          });
          const state = await partitionState(2, 'by-kafkajs');
          return listed.topics.length === 0 && state.replicas.join() === '2,3' ? state : undefined;
        },
        waitOptions(),
      );
      // A new leader's high watermark catches up once its followers fetch: wait for it.
      await waitFor(
        'by-kafkajs readable from its new leader',
        async () => ((await readAll(2, 'by-kafkajs')).join() === ['x', 'y'].join() ? true : undefined),
        waitOptions(),
      );
      // kafkajs's error for an unknown broker in the target.
      await expect(
        admin.alterPartitionReassignments({
          topics: [{ topic: 'by-kafkajs', partitionAssignment: [{ partition: 0, replicas: [2, 9] }] }],
        }),
      ).rejects.toThrow(/replica|assignment/i);
    } finally {
      await admin.disconnect();
    }
  });

  it('v1 with allowReplicationFactorChange false refuses a target of another size (KIP-860)', async () => {
    const response = await withConnection(1, (connection) =>
      connection.call(
        ApiKey.AlterPartitionReassignments,
        1,
        {
          timeoutMs: 10_000,
          allowReplicationFactorChange: false,
          topics: [{ name: 'by-platformatic', partitions: [{ partitionIndex: 0, replicas: [1, 2, 3] }] }],
        },
        15_000,
      ),
    );
    expect(response).toMatchObject({ errorCode: ErrorCode.NONE, allowReplicationFactorChange: false });
    expect(response.responses[0]!.partitions[0]).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
    });
  });

  it('errors name the problem: unknown broker, unknown partition, nothing to cancel', async () => {
    const response = await withConnection(1, (connection) =>
      connection.call(
        ApiKey.AlterPartitionReassignments,
        0,
        {
          timeoutMs: 10_000,
          topics: [
            {
              name: 'by-platformatic',
              partitions: [
                { partitionIndex: 0, replicas: [2, 99] },
                { partitionIndex: 0, replicas: null },
                { partitionIndex: 7, replicas: [1] },
              ],
            },
          ],
        },
        15_000,
      ),
    );
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.responses[0]!.partitions).toEqual([
      {
        partitionIndex: 0,
        errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        errorMessage: 'The manual partition assignment includes broker 99, but no such broker is registered.',
      },
      {
        partitionIndex: 0,
        errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS,
        errorMessage: 'no reassignment of partition by-platformatic-0 is in progress',
      },
      {
        partitionIndex: 7,
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        errorMessage: 'partition by-platformatic-7 does not exist',
      },
    ]);
  });
});

describe('a reassignment that cannot finish', () => {
  it('stays in progress while the added broker is down, is listed, and --cancel reverts it', async () => {
    await createTopic('stuck', [1, 2]);
    expect(await produce('stuck', ['x', 'y'])).toBe(true);
    await cluster.stop(3);
    const plan = writeJson('stuck.json', {
      version: 1,
      partitions: [{ topic: 'stuck', partition: 0, replicas: [3, 2] }],
    });
    const cli = (...args: string[]) =>
      gregor('reassign-partitions', '--bootstrap-server', bootstrapOf(1), ...args);
    expect(await cli('--execute', '--reassignment-json-file', plan)).toMatchObject({ code: 0, stderr: '' });
    expect(await cli('--list')).toMatchObject({
      code: 0,
      stdout: 'Current partition reassignments:\nstuck-0: replicas: 3,2,1. adding: 3. removing: 1.\n',
    });
    expect((await cli('--verify', '--reassignment-json-file', plan)).stdout).toBe(
      'Status of partition reassignment:\nReassignment of partition stuck-0 is still in progress.\n',
    );
    // Another --execute refuses while one is in progress, unless --additional.
    const again = await cli('--execute', '--reassignment-json-file', plan);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('Cannot execute because there is an existing partition assignment.');
    // The partition keeps serving from its old replicas meanwhile.
    expect(await produce('stuck', ['z'])).toBe(true);
    expect(await cli('--cancel', '--reassignment-json-file', plan)).toMatchObject({
      code: 0,
      stdout: 'Successfully cancelled partition reassignments for: stuck-0\n',
    });
    // As in Kafka, a revert keeps the replica list minus the added replicas ([3, 2, 1] -> [2, 1]);
    // the order --execute printed for rollback is restored by executing that file.
    expect(await partitionState(1, 'stuck')).toEqual({ replicas: [2, 1], leaderId: 1, isr: [1, 2] });
    expect(await cli('--cancel', '--reassignment-json-file', plan)).toMatchObject({
      code: 0,
      stdout: 'None of the specified partition reassignments are active.\n',
    });
    expect((await cli('--verify', '--reassignment-json-file', plan)).stdout).toContain(
      'There is no active reassignment of partition stuck-0, but replica set is 2,1 rather than 3,2.',
    );
    expect(await readAll(1, 'stuck')).toEqual(['x', 'y', 'z']);
  });
});
