// Consumer groups of other clients against a three-node cluster of broker processes, observed with
// `gregor groups` (the CLI binary, as a user runs it):
//  - kcat -G (librdkafka 2.0.2's KafkaConsumer) reads a topic to its end and commits on close;
//  - kafka-python 2.0.2's KafkaConsumer(group_id=...) does the same;
//  - one group mixes all three clients on the round-robin assignor, whose protocol name
//    ("roundrobin") librdkafka and kafka-python share; kafkajs's round-robin assigner is the same
//    algorithm and metadata layout under the name "RoundRobinAssigner", so it joins under the
//    common name. Each member ends up with two of the six partitions;
//  - `gregor groups list | describe | reset-offsets` on those groups: lag per partition, refusal
//    to reset an active group, dry run by default, --execute commits.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { Kafka, logLevel, PartitionAssigners, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const execFileAsync = promisify(execFile);
const pythonMember = new URL('./python/group_consumer.py', import.meta.url).pathname;
const partitionCount = 6;
/** Bounds on waits for groups to form and clients to finish (they normally take seconds). */
const groupWaitMs = 60_000;
const clientTimeoutMs = 60_000;
const pollIntervalMs = 200;

let cluster: ProcessCluster;
let kafka: Kafka;
let producer: Producer;
let scratchDir: string;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'offsets.topic.num.partitions': '10',
      'offsets.topic.replication.factor': '1',
      'group.initial.rebalance.delay.ms': '500',
    },
  });
  scratchDir = mkdtempSync(join(tmpdir(), 'gregor-groups-it-'));
  kafka = new Kafka({
    clientId: 'groups-it',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: ['kcat-topic', 'python-topic', 'mixed-topic'].map((topic) => ({
      topic,
      numPartitions: partitionCount,
      replicationFactor: 1,
    })),
  });
  await admin.disconnect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await cluster?.close();
  if (scratchDir !== undefined) rmSync(scratchDir, { recursive: true, force: true });
});

async function produce(topic: string, count: number): Promise<string[]> {
  const values = Array.from({ length: count }, (_, index) => `${topic}-${index}`);
  await producer.send({
    topic,
    acks: -1,
    messages: values.map((value, index) => ({ value, partition: index % partitionCount })),
  });
  return values;
}

async function gregorGroups(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [cliPath, 'groups', '--bootstrap-server', cluster.bootstrap, ...args],
      { timeout: clientTimeoutMs },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** The rows of `gregor groups describe` as column-name → value records. */
function tableRows(output: string): Record<string, string>[] {
  const lines = output.split('\n');
  const headerIndex = lines.findIndex((line) => line.startsWith('GROUP '));
  const header = lines[headerIndex]!.trim().split(/\s+/);
  return lines
    .slice(headerIndex + 1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const cells = line.trim().split(/\s+/);
      return Object.fromEntries(header.map((name, index) => [name, cells[index] ?? '']));
    });
}

function startPythonMember(command: object): {
  child: ChildProcess;
  result: Promise<{ values: string[]; assignment: number[] }>;
} {
  const child = spawn('/usr/bin/python3', [pythonMember], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin?.end(
    JSON.stringify({ bootstrap: cluster.bootstrap, timeout_s: clientTimeoutMs / 1000, ...command }),
  );
  const result = once(child, 'close').then(([code]) => {
    if (code !== 0) throw new Error(`kafka-python member exited ${code}: ${stderr}`);
    return JSON.parse(stdout) as { values: string[]; assignment: number[] };
  });
  return { child, result };
}

function kcatArgs(group: string, topic: string, extra: string[]): string[] {
  return [
    '-b',
    cluster.bootstrap,
    '-G',
    group,
    '-X',
    'auto.offset.reset=earliest',
    '-X',
    'partition.assignment.strategy=roundrobin',
    '-X',
    'client.id=kcat-member',
    '-f',
    '%s\\n',
    ...extra,
    topic,
  ];
}

/** The group as its coordinator describes it (state, members with their assignment sizes). */
async function describeGroup(
  groupId: string,
): Promise<{ state: string; protocol: string; memberCount: number }> {
  const bootstrap = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(1).kafkaPort });
  try {
    const found = await bootstrap.call(ApiKey.FindCoordinator, 1, { key: groupId, keyType: 0 });
    if (found.errorCode !== ErrorCode.NONE) return { state: '', protocol: '', memberCount: 0 };
    const coordinator = await KafkaConnection.open({ host: found.host, port: found.port });
    try {
      const response = await coordinator.call(ApiKey.DescribeGroups, 0, { groups: [groupId] });
      const group = response.groups[0]!;
      return { state: group.groupState, protocol: group.protocolData, memberCount: group.members.length };
    } finally {
      coordinator.close();
    }
  } finally {
    bootstrap.close();
  }
}

const waitOptions: WaitForOptions = {
  timeoutMs: groupWaitMs,
  intervalMs: pollIntervalMs,
  detail: () => cluster.tail(),
};

describe('consumer groups of kcat, kafka-python and a mixed group', () => {
  it('kcat -G reads every record once and commits on close: no lag left', async () => {
    const values = await produce('kcat-topic', 120);
    const { stdout } = await execFileAsync('kcat', kcatArgs('kcat-group', 'kcat-topic', ['-e', '-q']), {
      timeout: clientTimeoutMs,
    });
    expect(stdout.trim().split('\n').sort()).toEqual([...values].sort());

    const described = await gregorGroups('describe', 'kcat-group');
    expect(described.code).toBe(0);
    expect(described.stdout).toContain("Consumer group 'kcat-group' has no active members.");
    const rows = tableRows(described.stdout);
    expect(rows.map((row) => [row.PARTITION, row['CURRENT-OFFSET'], row['LOG-END-OFFSET'], row.LAG])).toEqual(
      Array.from({ length: partitionCount }, (_, partition) => [String(partition), '20', '20', '0']),
    );
  });

  it('kafka-python KafkaConsumer(group_id=...) reads every record once and commits', async () => {
    const values = await produce('python-topic', 120);
    const { result } = startPythonMember({
      topic: 'python-topic',
      group: 'python-group',
      count: values.length,
    });
    const consumed = await result;
    expect([...consumed.values].sort()).toEqual([...values].sort());
    expect(consumed.assignment).toEqual([0, 1, 2, 3, 4, 5]);
    const rows = tableRows((await gregorGroups('describe', 'python-group')).stdout);
    expect(rows.map((row) => row.LAG)).toEqual(Array(partitionCount).fill('0'));
  });

  it('kafkajs, kafka-python and kcat share one group on the roundrobin assignor, two partitions each', async () => {
    const values = await produce('mixed-topic', 60);
    const groupId = 'mixed-group';
    const stopFile = join(scratchDir, 'stop-python');
    const python = startPythonMember({
      topic: 'mixed-topic',
      group: groupId,
      client_id: 'python-member',
      stop_file: stopFile,
    });
    const kcatOutput: string[] = [];
    const kcat = spawn(
      'kcat',
      kcatArgs(groupId, 'mixed-topic', ['-q', '-X', 'auto.commit.interval.ms=200']),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    kcat.stdout?.on('data', (chunk: Buffer) => kcatOutput.push(chunk.toString()));
    const kafkajsValues: string[] = [];
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 200,
      partitionAssigners: [(config) => ({ ...PartitionAssigners.roundRobin(config), name: 'roundrobin' })],
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: ['mixed-topic'], fromBeginning: true });
      await consumer.run({
        autoCommitInterval: 200,
        eachMessage: async ({ message }) => {
          kafkajsValues.push(message.value?.toString() ?? '');
        },
      });
      await waitFor(
        'three members, Stable, on roundrobin',
        async () => {
          const group = await describeGroup(groupId);
          return group.state === 'Stable' && group.memberCount === 3 && group.protocol === 'roundrobin';
        },
        waitOptions,
      );

      const described = await gregorGroups('describe', groupId);
      expect(described.code).toBe(0);
      expect(described.stdout).toContain(
        `Group '${groupId}' is Stable (consumer/roundrobin) with 3 member(s).`,
      );
      const rows = tableRows(described.stdout);
      expect(rows.map((row) => row.PARTITION)).toEqual(['0', '1', '2', '3', '4', '5']);
      const partitionsByClient = new Map<string, number>();
      for (const row of rows)
        partitionsByClient.set(row['CLIENT-ID']!, (partitionsByClient.get(row['CLIENT-ID']!) ?? 0) + 1);
      expect(Object.fromEntries(partitionsByClient)).toEqual({
        'groups-it': 2,
        'python-member': 2,
        'kcat-member': 2,
      });

      const refused = await gregorGroups(
        'reset-offsets',
        '--group',
        groupId,
        '--topic',
        'mixed-topic',
        '--to-earliest',
        '--execute',
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `Error: Assignments can only be reset if the group '${groupId}' is inactive, but the current state is Stable.`,
      );
      // Each member commits what it consumed (kafkajs and kcat every 200 ms, kafka-python after each poll).
      await waitFor(
        'the mixed group consumed and committed everything',
        async () => {
          const current = tableRows((await gregorGroups('describe', groupId)).stdout);
          return current.length === partitionCount && current.every((row) => row.LAG === '0');
        },
        waitOptions,
      );
    } finally {
      await consumer.disconnect();
      writeFileSync(stopFile, '');
      kcat.kill('SIGTERM');
      await once(kcat, 'close');
    }
    const pythonResult = await python.result;
    const seen = new Set([...kafkajsValues, ...kcatOutput.join('').split('\n'), ...pythonResult.values]);
    expect(values.filter((value) => !seen.has(value))).toEqual([]);
  });

  it('gregor groups lists the groups and resets the offsets of an inactive one (dry run unless --execute)', async () => {
    const listed = await gregorGroups('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout.trim().split('\n')).toEqual(
      expect.arrayContaining(['kcat-group', 'mixed-group', 'python-group']),
    );

    const dryRun = await gregorGroups(
      'reset-offsets',
      '--group',
      'kcat-group',
      '--topic',
      'kcat-topic',
      '--to-earliest',
    );
    expect(dryRun.code).toBe(0);
    expect(tableRows(dryRun.stdout).map((row) => row['NEW-OFFSET'])).toEqual(Array(partitionCount).fill('0'));
    expect(dryRun.stderr).toContain('Dry run');
    let rows = tableRows((await gregorGroups('describe', 'kcat-group')).stdout);
    expect(rows.map((row) => row.LAG)).toEqual(Array(partitionCount).fill('0'));

    const executed = await gregorGroups(
      'reset-offsets',
      '--group',
      'kcat-group',
      '--topic',
      'kcat-topic',
      '--to-offset',
      '5',
      '--execute',
    );
    expect(executed.code).toBe(0);
    rows = tableRows((await gregorGroups('describe', 'kcat-group')).stdout);
    expect(rows.map((row) => [row['CURRENT-OFFSET'], row.LAG])).toEqual(
      Array(partitionCount).fill(['5', '15']),
    );

    const missing = await gregorGroups('describe', 'no-such-group');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Error: Consumer group 'no-such-group' does not exist.");
  });
});
