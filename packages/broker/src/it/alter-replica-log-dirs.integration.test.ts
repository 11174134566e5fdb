// AlterReplicaLogDirs (KIP-113) on three real broker processes, each with two log.dirs, driven by
// @platformatic/kafka's AlterReplicaLogDirs v2 codec (a client written without Gregor; kafkajs,
// kafka-python and librdkafka have no such API). A partition of replication factor 2 moves to the
// other log dir on its leader and on its follower while a producer keeps writing with acks=all:
// each broker copies the log into `<topic>-0.<id>-future` (DescribeLogDirs reports it with
// isFutureKey), swaps it in under the partition's append lock, and deletes the old directory.
// Every acknowledged record is then read back from the leader and found in the follower's segment
// files in its new dir. gregor reassign-partitions then moves a replica back under
// --replica-alter-log-dirs-throttle: the bound is set on that broker only, and the --verify that sees
// the move done removes it (no assertion on the copy's speed: that is log-dir-copy-pacer's unit test).
// Waits poll observable state with a bound.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKey } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { configResourceType, ErrorCode, iterateBatches } from '@gregor/protocol';
import { alterReplicaLogDirsV2, Connection } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionZeroCalls } from '../testing/partition-zero-calls.js';
import { ProcessCluster, runGregorCli } from '../testing/process-cluster.js';

const convergeTimeoutMs = 90_000;

let cluster: ProcessCluster;
const waitOptions = (): WaitForOptions => ({
  timeoutMs: convergeTimeoutMs,
  intervalMs: 250,
  detail: () => cluster.tail(),
});
const { withConnection, createTopic, produce, readAll } = partitionZeroCalls(() => cluster, waitOptions);

/** Node `id`'s two log dirs. */
function logDirsOf(id: number): [string, string] {
  const { dataDir } = cluster.node(id);
  return [join(dataDir, 'logs'), join(dataDir, 'logs-b')];
}

/** The log dir of node `id` holding `topic`-0 under its own name, if one does. */
function dirHolding(id: number, topic: string): string | undefined {
  return logDirsOf(id).find((dir) => existsSync(join(dir, `${topic}-0`)));
}

/** Every directory of `topic`-0 (live, future, moved or deleted) in node `id`'s log dirs. */
function partitionDirs(id: number, topic: string): string[] {
  return logDirsOf(id).flatMap((dir) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((name) => name.startsWith(`${topic}-0`))
          .map((name) => join(dir, name))
      : [],
  );
}

/** The record values in the segment files of `dir` (a partition directory). */
function valuesIn(dir: string): string[] {
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

/** DescribeLogDirs of node `id` for `topic`-0: each dir holding it, with isFutureKey. */
function describedPlacement(id: number, topic: string) {
  return withConnection(id, async (connection) => {
    const response = await connection.call(
      ApiKey.DescribeLogDirs,
      4,
      { topics: [{ topic, partitions: [0] }] },
      5_000,
    );
    return response.results.flatMap((dir) =>
      dir.topics.flatMap((entry) =>
        entry.partitions.map((partition) => ({ logDir: dir.logDir, isFuture: partition.isFutureKey })),
      ),
    );
  });
}

/** Node `id`'s own value of broker config `key` (DescribeConfigs v1 to it): null when it has none. */
function ownBrokerConfig(id: number, key: string): Promise<string | null> {
  return withConnection(id, async (connection) => {
    const response = await connection.call(
      ApiKey.DescribeConfigs,
      1,
      {
        resources: [
          { resourceType: configResourceType.broker, resourceName: String(id), configurationKeys: [key] },
        ],
        includeSynonyms: false,
      },
      5_000,
    );
    const config = response.results[0]?.configs.find((entry) => entry.name === key);
    // Kafka's ConfigSource DYNAMIC_BROKER_CONFIG: set for this broker (not the default).
    return config?.configSource === 2 ? config.value : null;
  });
}

/** AlterReplicaLogDirs v2 through @platformatic/kafka, to node `id`: the partitions' error codes. */
async function alterLogDir(id: number, path: string, topic: string): Promise<number[]> {
  const connection = new Connection(`alter-log-dirs-${id}`);
  await connection.connect('127.0.0.1', cluster.node(id).kafkaPort);
  try {
    const response = await alterReplicaLogDirsV2.api.async(connection, [
      { path, topics: [{ name: topic, partitions: [0] }] },
    ]);
    return response.results.flatMap((result) => result.partitions.map((partition) => partition.errorCode));
  } catch (error) {
    // A partition error makes the codec throw, with the parsed response attached.
    const response = (error as { response?: { results: { partitions: { errorCode: number }[] }[] } })
      .response;
    if (response === undefined) throw error;
    return response.results.flatMap((result) => result.partitions.map((partition) => partition.errorCode));
  } finally {
    await connection.close();
  }
}

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: { 'auto.leader.rebalance.enable': 'false' },
    nodeProperties: (_id, dataDir) => ({ 'log.dirs': `${join(dataDir, 'logs')},${join(dataDir, 'logs-b')}` }),
  });
});
afterAll(async () => {
  await cluster?.close();
});

describe('AlterReplicaLogDirs (@platformatic/kafka)', () => {
  it('moves a partition to the other log dir on its leader and its follower under acks=all writes, losing nothing', async () => {
    // Small segments, so that each copy spans several segments.
    await createTopic('relocated', [1, 2], [{ name: 'segment.bytes', value: '4096' }]);
    const acknowledged: string[] = [];
    for (let round = 0; round < 20; round++) {
      const values = Array.from({ length: 50 }, (_, index) => `before-${round}-${index}`);
      expect(await produce('relocated', values)).toBe(true);
      acknowledged.push(...values);
    }
    const sources = new Map<number, string>();
    const targets = new Map<number, string>();
    for (const id of [1, 2]) {
      const source = dirHolding(id, 'relocated');
      expect(source).toBeDefined();
      sources.set(id, source!);
      targets.set(id, logDirsOf(id).find((dir) => dir !== source)!);
    }

    // Refused: a path that is not one of the broker's log.dirs; a broker without a replica.
    expect(await alterLogDir(1, join(cluster.rootDir, 'not-a-log-dir'), 'relocated')).toEqual([
      ErrorCode.LOG_DIR_NOT_FOUND,
    ]);
    expect(await alterLogDir(3, logDirsOf(3)[1], 'relocated')).toEqual([ErrorCode.REPLICA_NOT_AVAILABLE]);

    let producing = true;
    let attempted = 0;
    const producer = (async () => {
      for (let round = 0; producing; round++) {
        const values = Array.from({ length: 20 }, (_, index) => `during-${round}-${index}`);
        attempted += 1;
        if (await produce('relocated', values).catch(() => false)) acknowledged.push(...values);
      }
    })();
    await waitFor('the producer is writing', async () => (attempted > 3 ? true : undefined), waitOptions());

    // The leader's replica, then the follower's.
    expect(await alterLogDir(1, targets.get(1)!, 'relocated')).toEqual([ErrorCode.NONE]);
    expect(await alterLogDir(2, targets.get(2)!, 'relocated')).toEqual([ErrorCode.NONE]);
    const attemptedAtStart = attempted;
    for (const id of [1, 2]) {
      await waitFor(
        `node ${id} moved relocated-0 to ${targets.get(id)}`,
        async () => {
          const placement = await describedPlacement(id, 'relocated').catch(() => undefined);
          const moved =
            placement?.length === 1 && placement[0]!.logDir === targets.get(id) && !placement[0]!.isFuture;
          return moved && partitionDirs(id, 'relocated').length === 1 ? true : undefined;
        },
        waitOptions(),
      );
      expect(partitionDirs(id, 'relocated')).toEqual([join(targets.get(id)!, 'relocated-0')]);
    }
    // Writes went on through the moves, and after them.
    await waitFor(
      'the producer wrote after the moves',
      async () => (attempted > attemptedAtStart + 5 ? true : undefined),
      waitOptions(),
    );
    producing = false;
    await producer;
    // Already there: nothing to do.
    expect(await alterLogDir(1, targets.get(1)!, 'relocated')).toEqual([ErrorCode.NONE]);

    const readable = await readAll(1, 'relocated');
    expect(readable.length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(new Set(readable)).toEqual(new Set([...readable, ...acknowledged]));
    const followerCopy = await waitFor(
      "the follower's new directory holds every acknowledged record",
      async () => {
        const values = valuesIn(join(targets.get(2)!, 'relocated-0'));
        return acknowledged.every((value) => values.includes(value)) ? values : undefined;
      },
      waitOptions(),
    );
    expect(new Set(followerCopy).size).toBe(followerCopy.length);
    const segments = readdirSync(join(targets.get(1)!, 'relocated-0')).filter((file) =>
      file.endsWith('.log'),
    );
    expect(segments.length).toBeGreaterThan(3);
    expect(existsSync(join(sources.get(1)!, 'relocated-0'))).toBe(false);
  });

  it('gregor reassign-partitions moves a replica back with log_dirs (kafka-reassign-partitions.sh format) under --replica-alter-log-dirs-throttle, and --verify reports it and removes the throttle', async () => {
    const source = dirHolding(1, 'relocated')!;
    const back = logDirsOf(1).find((dir) => dir !== source)!;
    const plan = join(cluster.rootDir, 'log-dirs.json');
    writeFileSync(
      plan,
      JSON.stringify({
        version: 1,
        partitions: [{ topic: 'relocated', partition: 0, replicas: [1, 2], log_dirs: [back, 'any'] }],
      }),
    );
    const bootstrap = `127.0.0.1:${cluster.node(1).kafkaPort}`;
    const throttleKey = 'replica.alter.log.dirs.io.max.bytes.per.second';
    const executed = await runGregorCli(
      [
        'reassign-partitions',
        '--bootstrap-server',
        bootstrap,
        '--execute',
        '--reassignment-json-file',
        plan,
        '--replica-alter-log-dirs-throttle',
        '200000',
      ],
      60_000,
    );
    expect(executed).toMatchObject({ code: 0, stderr: '' });
    expect(executed.stdout).toContain('The replica-alter-dir throttle limit was set to 200000 B/s\n');
    expect(executed.stdout).toContain('Successfully started log directory move for: relocated-0-1\n');
    // Set on the broker whose replica moves (once its metadata has the change), on no other; it
    // stays until --verify sees the move done.
    await waitFor(
      'node 1 has the log dir throttle',
      async () => ((await ownBrokerConfig(1, throttleKey)) === '200000' ? true : undefined),
      waitOptions(),
    );
    expect(await ownBrokerConfig(2, throttleKey)).toBeNull();
    const verified = await waitFor(
      'the log dir move completed',
      async () => {
        const run = await runGregorCli(
          [
            'reassign-partitions',
            '--bootstrap-server',
            bootstrap,
            '--verify',
            '--reassignment-json-file',
            plan,
          ],
          60_000,
        );
        return run.stdout.includes('completed successfully') ? run : undefined;
      },
      waitOptions(),
    );
    expect(verified).toMatchObject({ code: 0, stderr: '' });
    expect(verified.stdout).toContain('Reassignment of replica relocated-0-1 completed successfully.\n');
    // The move completed under the throttle, and the --verify that saw it done removed the bound.
    expect(verified.stdout).toContain('Throttle was removed.\n');
    await waitFor(
      'node 1 no longer has the log dir throttle',
      async () => ((await ownBrokerConfig(1, throttleKey)) === null ? true : undefined),
      waitOptions(),
    );
    expect(dirHolding(1, 'relocated')).toBe(back);
    expect(partitionDirs(1, 'relocated')).toEqual([join(back, 'relocated-0')]);
  });
});
