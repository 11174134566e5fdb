// An unclean leader election on real broker processes, and a consumer finding out that the log it
// read was truncated by it (KIP-320). Three nodes; a topic whose two partitions both live on nodes
// 1 and 2; node 3 is the consumer's bootstrap and never stops (the metadata quorum is lost from node
// 1's stop to node 2's start, as in any outage of two of three nodes). Node 2 is stopped, node 1
// takes records with acks=1 that only it holds (the ISR is node 1 alone), a librdkafka 2.15
// consumer (confluent-kafka, auto.offset.reset=error) reads them, node 1 is stopped and node 2
// started: both partitions are leaderless (node 2 is outside their ISR) and a PREFERRED election
// cannot help. `gregor leader-election --election-type UNCLEAN` elects node 2 for partition 0,
// librdkafka's C admin API (rd_kafka_ElectLeaders, UNCLEAN) for partition 1. Node 2 leads at a
// higher epoch with the acks=1 records gone; OffsetForLeaderEpoch for the epoch the consumer read
// under answers the offset where node 2's log diverges, and librdkafka, validating its position on
// the new leader, reports the truncation for each partition instead of fetching on.
// Waits poll observable state with a bound; nothing asserts on timing.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  currentLibrdkafkaEnv,
  currentLibrdkafkaVersion,
  runCurrentLibrdkafkaPython,
} from '../testing/current-librdkafka.js';
import { partitionZeroCalls } from '../testing/partition-zero-calls.js';
import { type CliRun, ProcessCluster, runGregorCli } from '../testing/process-cluster.js';
import { RawClusterClient } from '../testing/raw-cluster-client.js';

const topic = 'unclean';
const partitions = [0, 1] as const;
/** Records written to both replicas (acks=all), then to the leader alone (acks=1), per partition. */
const ackedCount = 5;
const leaderOnlyCount = 5;
const waitTimeoutMs = 30_000;
const clientTimeoutMs = 30_000;
/** librdkafka's rd_kafka_resp_err_t for an offset reset under auto.offset.reset=error. */
const autoOffsetResetError = -140;
const pythonDir = new URL('./python/', import.meta.url).pathname;

let cluster: ProcessCluster;
let client: RawClusterClient;
const waitOptions = (): WaitForOptions => ({
  timeoutMs: waitTimeoutMs,
  intervalMs: 100,
  detail: () => cluster.tail(),
});
const { withConnection, createTopic } = partitionZeroCalls(() => cluster, waitOptions);

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    // Only the elections of this test move leaders.
    properties: { 'auto.leader.rebalance.enable': 'false', 'auto.create.topics.enable': 'false' },
  });
  client = new RawClusterClient(cluster);
});
afterAll(async () => {
  client?.close();
  await cluster?.close();
});

interface PartitionMetadata {
  readonly errorCode: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly isr: number[];
}

/** Both partitions as node `viaId` answers Metadata v7 (with leader epochs and error codes). */
function metadata(viaId: number): Promise<PartitionMetadata[]> {
  return withConnection(viaId, async (connection) => {
    const response = await connection.call(
      ApiKey.Metadata,
      7,
      { topics: [{ name: topic }], allowAutoTopicCreation: false },
      5_000,
    );
    const listed = response.topics[0]?.partitions ?? [];
    return partitions.map((index) => {
      const state = listed.find((entry) => entry.partitionIndex === index);
      if (state === undefined) throw new Error(`${topic}-${index} not in node ${viaId}'s metadata`);
      return {
        errorCode: state.errorCode,
        leaderId: state.leaderId,
        leaderEpoch: state.leaderEpoch,
        isr: [...state.isrNodes].sort(),
      };
    });
  });
}

function waitForMetadata(
  what: string,
  viaId: number,
  holds: (partition: PartitionMetadata) => boolean,
): Promise<PartitionMetadata[]> {
  return waitFor(
    what,
    async () => {
      const states = await metadata(viaId);
      return states.every(holds) ? states : undefined;
    },
    waitOptions(),
  );
}

const gregor = (...args: string[]): Promise<CliRun> => runGregorCli(args, clientTimeoutMs);

/** One ElectLeaders through librdkafka 2.15's C admin API, via node `viaId`: [topic, partition, code]. */
function librdkafkaElect(viaId: number, electionType: 'PREFERRED' | 'UNCLEAN', partition: number) {
  const { answers } = runCurrentLibrdkafkaPython<{ answers: { partitions: [string, number, number][] }[] }>(
    join(pythonDir, 'librdkafka_admin.py'),
    {
      bootstrap: `127.0.0.1:${cluster.node(viaId).kafkaPort}`,
      steps: [{ op: 'elect_leaders', election_type: electionType, partitions: [[topic, partition]] }],
    },
    clientTimeoutMs,
  );
  return answers[0]!.partitions;
}

interface TruncationAnswer {
  readonly records: { partition: number; offset: number; value: string }[];
  readonly partition_errors: { partition: number; code: number; name: string; reason: string }[];
  readonly librdkafka: string;
}

describe('unclean leader election (ElectLeaders UNCLEAN) and truncation detection (OffsetForLeaderEpoch)', () => {
  it('elects an out-of-ISR replica with gregor leader-election and librdkafka, and a librdkafka consumer detects the truncation', async () => {
    await createTopic(topic, [1, 2], [], [[1, 2]]);
    await waitForMetadata('both partitions led by node 1 with ISR [1, 2]', 1, (partition) => {
      return partition.leaderId === 1 && partition.isr.join() === '1,2';
    });
    const acked = (index: number) => Array.from({ length: ackedCount }, (_, i) => `p${index}-acked-${i}`);
    const leaderOnly = (index: number) =>
      Array.from({ length: leaderOnlyCount }, (_, i) => `p${index}-leader-only-${i}`);
    for (const index of partitions) {
      expect(await client.produce(1, topic, index, acked(index), -1)).toEqual({
        errorCode: 0,
        baseOffset: 0,
      });
    }

    // Node 2 stops: the ISR shrinks to node 1, which takes acks=1 records no other replica has.
    await cluster.stop(2);
    const shrunk = await waitForMetadata('the ISR shrunk to node 1', 3, (partition) => {
      return partition.leaderId === 1 && partition.isr.join() === '1';
    });
    for (const index of partitions) {
      expect(await client.produce(1, topic, index, leaderOnly(index), 1)).toEqual({
        errorCode: 0,
        baseOffset: ackedCount,
      });
    }

    // A consumer reads every record of both partitions (offsets 0-9), then keeps polling.
    const scratch = mkdtempSync(join(tmpdir(), 'unclean-election-'));
    const readyFile = join(scratch, 'ready');
    const consumer = spawn('/usr/bin/python3', [join(pythonDir, 'confluent_kafka_client.py')], {
      env: currentLibrdkafkaEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    consumer.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    consumer.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = once(consumer, 'close');
    consumer.stdin.end(
      JSON.stringify({
        // Node 3 is never stopped; the consumer finds the others (and node 2's new port) in Metadata.
        bootstrap: `127.0.0.1:${cluster.node(3).kafkaPort}`,
        op: 'consume_until_truncation',
        topic,
        partitions,
        count: ackedCount + leaderOnlyCount,
        ready_file: readyFile,
        timeout_ms: 90_000,
      }),
    );
    try {
      await waitFor('the consumer read every record', () => existsSync(readyFile), waitOptions());

      // Node 1 stops, node 2 starts: the partitions are offline, their ISR still node 1 alone.
      await cluster.stop(1);
      await cluster.restart(2);
      await cluster.waitReady();
      const offline = await waitForMetadata('both partitions leaderless on node 2', 2, (partition) => {
        return partition.leaderId === -1;
      });
      for (const [position, partition] of offline.entries()) {
        expect(partition).toMatchObject({
          errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
          leaderId: -1,
          isr: [1],
        });
        expect(partition.leaderEpoch).toBeGreaterThanOrEqual(shrunk[position]!.leaderEpoch);
      }

      // PREFERRED elects only an ISR member: node 1 is preferred and down, node 2 not in the ISR.
      expect(
        await gregor(
          'leader-election',
          '--bootstrap-server',
          `127.0.0.1:${cluster.node(2).kafkaPort}`,
          '--election-type',
          'PREFERRED',
          '--topic',
          topic,
          '--partition',
          '0',
        ),
      ).toMatchObject({
        code: 1,
        stdout: `Error completing leader election (PREFERRED) for partition: ${topic}-0: PREFERRED_LEADER_NOT_AVAILABLE: PREFERRED_LEADER_NOT_AVAILABLE\n`,
      });
      expect(librdkafkaElect(3, 'PREFERRED', 1)).toEqual([
        [topic, 1, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE],
      ]);
      expect((await metadata(3)).map((partition) => partition.leaderId)).toEqual([-1, -1]);

      // UNCLEAN elects node 2: partition 0 with the CLI, partition 1 with librdkafka.
      expect(
        await gregor(
          'leader-election',
          '--bootstrap-server',
          `127.0.0.1:${cluster.node(3).kafkaPort}`,
          '--election-type',
          'UNCLEAN',
          '--topic',
          topic,
          '--partition',
          '0',
        ),
      ).toEqual({
        code: 0,
        stdout: `Successfully completed leader election (UNCLEAN) for partitions ${topic}-0\n`,
        stderr: '',
      });
      expect(librdkafkaElect(2, 'UNCLEAN', 1)).toEqual([[topic, 1, ErrorCode.NONE]]);
      const elected = await waitForMetadata('node 2 leads both partitions', 2, (partition) => {
        return partition.leaderId === 2;
      });
      for (const [position, partition] of elected.entries()) {
        expect(partition).toMatchObject({ errorCode: ErrorCode.NONE, leaderId: 2, isr: [2] });
        expect(partition.leaderEpoch).toBeGreaterThan(offline[position]!.leaderEpoch);
      }

      // The new leader has the acknowledged records only: the acks=1 ones are lost.
      for (const index of partitions) {
        const read = await client.readAll(2, topic, index);
        expect(read).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: ackedCount });
        expect(read.records.map((record) => record.value)).toEqual(acked(index));
      }

      // OffsetForLeaderEpoch v4 for the epoch the consumer read under: it ends where node 2's log
      // diverges from what the consumer read (offset 5), not at the consumer's position (10).
      for (const [position, index] of partitions.entries()) {
        const readEpoch = shrunk[position]!.leaderEpoch;
        const answer = await withConnection(2, async (connection) => {
          const response = await connection.call(
            ApiKey.OffsetForLeaderEpoch,
            4,
            {
              replicaId: -1,
              topics: [
                {
                  topic,
                  partitions: [
                    {
                      partition: index,
                      currentLeaderEpoch: elected[position]!.leaderEpoch,
                      leaderEpoch: readEpoch,
                    },
                  ],
                },
              ],
            },
            5_000,
          );
          return response.topics[0]!.partitions[0]!;
        });
        expect(answer).toEqual({
          errorCode: ErrorCode.NONE,
          partition: index,
          leaderEpoch: readEpoch,
          endOffset: BigInt(ackedCount),
        });
      }

      // librdkafka validated its position (offset 10, the epoch it read under) on node 2 and, with
      // auto.offset.reset=error, reports the truncation for each partition. The reason is what tells
      // KIP-320's detection apart from a plain reset: had OffsetForLeaderEpoch answered offset 10,
      // the fetch at 10 would have failed OFFSET_OUT_OF_RANGE, also an _AUTO_OFFSET_RESET ("fetch
      // failed due to requested offset not available on the broker").
      const [code] = (await exited) as [number | null];
      expect(code, stderr).toBe(0);
      const answer = JSON.parse(stdout) as TruncationAnswer;
      expect(answer.librdkafka).toBe(currentLibrdkafkaVersion);
      for (const index of partitions) {
        expect(
          answer.records.filter((record) => record.partition === index).map((record) => record.value),
        ).toEqual([...acked(index), ...leaderOnly(index)]);
      }
      expect(answer.partition_errors.map((error) => error.partition).sort()).toEqual([...partitions]);
      for (const [position, index] of partitions.entries()) {
        const readEpoch = shrunk[position]!.leaderEpoch;
        const error = answer.partition_errors.find((entry) => entry.partition === index)!;
        expect(error).toMatchObject({ code: autoOffsetResetError, name: '_AUTO_OFFSET_RESET' });
        expect(error.reason).toContain(
          `Partition log truncation detected at offset ${ackedCount + leaderOnlyCount} (leader epoch ${readEpoch}): broker end offset is ${ackedCount} (offset leader epoch ${readEpoch})`,
        );
        expect(error.reason).toContain('Local: Partition log truncation detected (broker 2)');
      }
    } finally {
      if (consumer.exitCode === null && consumer.signalCode === null) consumer.kill('SIGKILL');
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
