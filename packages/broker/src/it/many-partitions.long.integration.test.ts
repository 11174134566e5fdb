// Tens of thousands of partitions on real broker processes. Every partition has three segment files
// and the process has 20,000 descriptors (set by the test with `prlimit`, whatever the machine's
// own `ulimit -n`, since the broker raises its soft limit to the hard one): before storage shared
// one LRU budget of descriptors, creating these topics killed the broker with EMFILE. Now it must
// create them, serve produce and fetch across the whole range, and come back after a restart,
// holding at most its descriptor budget. (Timings: `npm run bench:partitions`.)

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient } from '../testing/raw-cluster-client.js';

/** The controller's partitionsPerTopicMax: bigger counts take several topics. */
const partitionsPerTopic = 10_000;
const convergeTimeoutMs = 300_000;

interface SampledPartition {
  readonly topic: string;
  readonly index: number;
}

/** `count` partitions spread over `total` (first and last included), in topics of 10,000. */
function spreadSample(prefix: string, total: number, count: number): SampledPartition[] {
  const sample: SampledPartition[] = [];
  for (let i = 0; i < count; i++) {
    const global = Math.round((i * (total - 1)) / (count - 1));
    sample.push({
      topic: `${prefix}-${Math.floor(global / partitionsPerTopic)}`,
      index: global % partitionsPerTopic,
    });
  }
  return sample;
}

async function createTopics(
  client: RawClusterClient,
  viaId: number,
  prefix: string,
  total: number,
  replicationFactor: number,
): Promise<void> {
  const connection = await client.connection(viaId);
  for (let first = 0, n = 0; first < total; first += partitionsPerTopic, n++) {
    const response = await connection.call(
      ApiKey.CreateTopics,
      3,
      {
        topics: [
          {
            name: `${prefix}-${n}`,
            numPartitions: Math.min(partitionsPerTopic, total - first),
            replicationFactor,
            assignments: [],
            configs: [],
          },
        ],
        timeoutMs: convergeTimeoutMs,
        validateOnly: false,
      },
      convergeTimeoutMs + 10_000,
    );
    expect(response.topics[0]!.errorMessage ?? '').toBe('');
    expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  }
}

const waitOptions: WaitForOptions = { timeoutMs: convergeTimeoutMs, intervalMs: 250 };

function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function openFileLimit(pid: number): { soft: number; hard: number } {
  const [, soft, hard] = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))!;
  return { soft: Number(soft), hard: Number(hard) };
}

function softOpenFileLimit(pid: number): number {
  return openFileLimit(pid).soft;
}

/**
 * The broker's descriptors, soft and hard: fewer than the 3 files × 20,000 partitions. Set here, not
 * left to the machine, because the broker raises its soft limit to the hard one at start-up and a
 * machine's hard limit may be anything (1,048,576 is common).
 */
const nofileLimit = 20_000;
const underNofileLimit = ['prlimit', `--nofile=${nofileLimit}:${nofileLimit}`, '--'];

/** Prints how long each phase took (figures for the reader of the test log, never asserted). */
function phaseClock(label: string): (phase: string) => void {
  let last = performance.now();
  return (phase) => {
    const now = performance.now();
    console.log(`${label}: ${phase} in ${((now - last) / 1000).toFixed(1)} s`);
    last = now;
  };
}

const recordValue = (p: SampledPartition, round: string) => `${round}:${p.topic}/${p.index}`;

let cluster: ProcessCluster | undefined;
let client: RawClusterClient | undefined;
afterEach(async () => {
  client?.close();
  await cluster?.close();
  cluster = undefined;
  client = undefined;
});

describe('a broker with 20,000 partitions (one process, replication factor 1)', () => {
  it('creates them, serves produce and fetch across the range, restarts and serves them again', {
    timeout: 1_200_000,
  }, async () => {
    const total = 20_000;
    cluster = await ProcessCluster.start({ nodeCount: 1, commandPrefix: underNofileLimit });
    client = new RawClusterClient(cluster);
    const node = cluster.node(1);
    const pid = node.process!.pid!;
    // The limit the test set, below one descriptor per file: the broker must not need one each.
    expect(openFileLimit(pid)).toEqual({ soft: nofileLimit, hard: nofileLimit });
    expect(nofileLimit).toBeLessThan(3 * total);

    const phase = phaseClock('20,000 partitions, one broker');
    await createTopics(client, 1, 'many', total, 1);
    phase('CreateTopics (answered once the broker applied them)');
    const partitionDirs = readdirSync(join(node.dataDir, 'logs')).filter((name) =>
      /^many-\d-\d+$/.test(name),
    );
    expect(partitionDirs).toHaveLength(total);

    const sample = spreadSample('many', total, 100);
    for (const partition of sample) {
      const produced = await client.produce(
        1,
        partition.topic,
        partition.index,
        [recordValue(partition, 'first')],
        -1,
      );
      expect(produced).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    }
    for (const partition of sample) {
      const read = await client.readAll(1, partition.topic, partition.index);
      expect(read.records).toEqual([{ offset: 0, value: recordValue(partition, 'first') }]);
    }
    // Storage holds at most half the soft limit; sockets and the metadata store need the rest.
    expect(openDescriptors(pid)).toBeLessThan(softOpenFileLimit(pid) / 2 + 200);

    // A clean restart: every partition is opened again, and the sample serves its records.
    client.drop(1);
    expect(await cluster.stop(1)).toBe(0);
    phase('produce and fetch of the sample, SIGTERM');
    await cluster.restart(1);
    await cluster.waitReady(convergeTimeoutMs);
    const restartedPid = node.process!.pid!;
    expect(openFileLimit(restartedPid)).toEqual({ soft: nofileLimit, hard: nofileLimit });
    for (const partition of sample) {
      const read = await waitFor(
        `${partition.topic}-${partition.index} readable after the restart`,
        async () => {
          const result = await client!.readAll(1, partition.topic, partition.index);
          return result.errorCode === ErrorCode.NONE && result.records.length > 0 ? result : undefined;
        },
        waitOptions,
      );
      expect(read.records).toEqual([{ offset: 0, value: recordValue(partition, 'first') }]);
      const produced = await client.produce(
        1,
        partition.topic,
        partition.index,
        [recordValue(partition, 'second')],
        -1,
      );
      expect(produced).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 1 });
    }
    phase('restart until the whole sample served its records and took new ones');
    expect(openDescriptors(restartedPid)).toBeLessThan(softOpenFileLimit(restartedPid) / 2 + 200);
    expect(node.output.join('')).not.toMatch(/EMFILE|too many open files/i);
  });
});

// Kept smaller than the one-broker case: after a restart the leaders move each partition back into
// the ISR with one AlterPartition each (10-25 per second on the 2-core test machine), not in batches.
describe('three brokers with 600 partitions × 3 replicas on a budget of 200 descriptors each', () => {
  it('replicates, survives a restart of a broker and serves every sampled partition', {
    timeout: 1_200_000,
  }, async () => {
    const total = 600;
    cluster = await ProcessCluster.start({
      nodeCount: 3,
      // Far fewer descriptors than the 1,800 segment files each broker holds: every fetch, append
      // and replica fetch goes through the least-recently-used cache, closing and reopening files.
      properties: { 'gregor.log.open.files.max': '200', 'min.insync.replicas': '2' },
    });
    client = new RawClusterClient(cluster);
    const phase = phaseClock('600 partitions × 3 replicas');
    await createTopics(client, 1, 'replicated', total, 3);
    phase('CreateTopics');

    const sample = spreadSample('replicated', total, 60);
    /**
     * acks=all to whoever leads now (asked of `viaIds`); a broker that has not applied the topic yet,
     * or lost the leadership meanwhile, is asked again.
     */
    const produceToLeader = (partition: SampledPartition, value: string, viaIds = [1, 2, 3]) =>
      waitFor(
        `acks=all produce to ${partition.topic}-${partition.index}`,
        async () => {
          const view = await client!.partition(partition.topic, partition.index, viaIds);
          if (view === undefined || !viaIds.includes(view.leaderId)) return undefined;
          const outcome = await client!.produce(view.leaderId, partition.topic, partition.index, [value], -1);
          return outcome.errorCode === ErrorCode.NONE ? outcome : undefined;
        },
        waitOptions,
      );
    for (const partition of sample) {
      await waitFor(
        `${partition.topic}-${partition.index} has a full ISR`,
        async () => {
          const found = await client!.partition(partition.topic, partition.index);
          return found !== undefined && found.isr.length === 3 ? found : undefined;
        },
        waitOptions,
      );
      expect((await produceToLeader(partition, recordValue(partition, 'first'))).baseOffset).toBe(0);
    }

    phase('full ISR and an acks=all produce on every sampled partition');
    // Broker 2 restarts; acks=all needs 2 of 3 replicas, so writes go on meanwhile.
    client.drop(2);
    expect(await cluster.stop(2)).toBe(0);
    for (const partition of sample) {
      expect((await produceToLeader(partition, recordValue(partition, 'second'), [1, 3])).baseOffset).toBe(1);
    }
    phase('SIGTERM of broker 2 and acks=all produces without it');
    await cluster.restart(2);
    await cluster.waitReady(convergeTimeoutMs);

    // Broker 2 catches up on every sampled partition (back in the ISR) and the data is intact.
    for (const partition of sample) {
      // Leadership may move back to a preferred replica meanwhile: ask again until a leader answers.
      const read = await waitFor(
        `${partition.topic}-${partition.index} back to a full ISR and readable`,
        async () => {
          const view = await client!.partition(partition.topic, partition.index);
          if (view === undefined || view.isr.length !== 3) return undefined;
          const result = await client!.readAll(view.leaderId, partition.topic, partition.index);
          return result.errorCode === ErrorCode.NONE ? result : undefined;
        },
        waitOptions,
      );
      expect(read.records).toEqual([
        { offset: 0, value: recordValue(partition, 'first') },
        { offset: 1, value: recordValue(partition, 'second') },
      ]);
    }
    phase('broker 2 back in every sampled ISR, data read back');
    for (const node of cluster.nodes) {
      expect(openDescriptors(node.process!.pid!)).toBeLessThan(200 + 200);
      expect(node.output.join('')).not.toMatch(/EMFILE|too many open files/i);
    }
  });
});

describe('a broker sized by max.broker.partitions', () => {
  it('refuses CreateTopics and CreatePartitions beyond it with POLICY_VIOLATION naming the limit, and keeps serving', async () => {
    cluster = await ProcessCluster.start({ nodeCount: 1, properties: { 'max.broker.partitions': '100' } });
    client = new RawClusterClient(cluster);
    const connection = await client.connection(1);
    const create = async (name: string, numPartitions: number) =>
      (
        await connection.call(
          ApiKey.CreateTopics,
          3,
          {
            topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
            timeoutMs: 10_000,
            validateOnly: false,
          },
          20_000,
        )
      ).topics[0]!;
    expect((await create('fits', 60)).errorCode).toBe(ErrorCode.NONE);
    const refused = await create('too-many', 41);
    expect(refused.errorCode).toBe(ErrorCode.POLICY_VIOLATION);
    expect(refused.errorMessage).toMatch(/broker 1 101 partition replicas .*max\.broker\.partitions=100/);
    // The controller's per-topic cap answers INVALID_PARTITIONS, as before.
    expect((await create('huge', 10_001)).errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
    const grow = await connection.call(
      ApiKey.CreatePartitions,
      1,
      { topics: [{ name: 'fits', count: 101, assignments: null }], timeoutMs: 10_000, validateOnly: false },
      20_000,
    );
    expect(grow.results[0]!.errorCode).toBe(ErrorCode.POLICY_VIOLATION);
    expect(grow.results[0]!.errorMessage).toMatch(/max\.broker\.partitions=100/);
    expect((await create('fills', 40)).errorCode).toBe(ErrorCode.NONE);
    expect((await client.produce(1, 'fills', 39, ['still serving'], -1)).errorCode).toBe(ErrorCode.NONE);
  });
});
