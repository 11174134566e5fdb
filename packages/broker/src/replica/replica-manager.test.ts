import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { ApiKey, ErrorCode, earliestTimestamp } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { setAsideRetriesPerRunMax } from './image-reconciler.js';
import { retentionCheckIntervalMsDefault } from './replica-maintenance.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, configs: Record<string, string>): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([configName, value]) => ({ name: configName, value })),
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function produceErrorCode(topic: string, value: string): Promise<number> {
  const response = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, records: batchOf([value]) }] }],
  });
  return response.responses[0]!.partitions[0]!.errorCode;
}

async function produce(topic: string, value: string): Promise<void> {
  expect(await produceErrorCode(topic, value)).toBe(ErrorCode.NONE);
}

describe('ReplicaManager maintenance', () => {
  it('applies retention when its interval is due; the log start moves and older offsets are out of range', async () => {
    cluster = await LocalClusterFixture.start();
    // Every batch gets a segment of its own; retention.bytes 1 keeps only the active segment.
    await createTopic('short', { 'segment.bytes': '100', 'retention.bytes': '1' });
    for (const value of ['a'.repeat(80), 'b'.repeat(80), 'c'.repeat(80)]) await produce('short', value);
    const partition = cluster.replicaManager.partition('short', 0)!;
    expect(partition.log.segmentBaseOffsets()).toEqual([0, 1, 2]);

    await cluster.replicaManager.maintenance(cluster.clock.nowMs());
    expect(partition.logStartOffset).toBe(0);
    await cluster.replicaManager.maintenance(cluster.clock.nowMs() + retentionCheckIntervalMsDefault);
    expect(partition.logStartOffset).toBe(2);

    const earliest = await cluster.request(ApiKey.ListOffsets, 1, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: 'short', partitions: [{ partitionIndex: 0, timestamp: earliestTimestamp }] }],
    });
    expect(earliest.topics[0]!.partitions[0]!.offset).toBe(2n);
    const below = await cluster.request(ApiKey.Fetch, 4, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [
        { topic: 'short', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
      ],
    });
    expect(below.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('a topic config storage refuses keeps the broker default and is logged', async () => {
    cluster = await LocalClusterFixture.start();
    // The controller accepts any int; storage needs at least 14 bytes per segment.
    await createTopic('odd', { 'segment.bytes': '1' });
    expect(cluster.replicaManager.partition('odd', 0)!.log.config.segmentBytes).toBe(1024 * 1024 * 1024);
    expect(cluster.logLines.some((line) => line.includes('topic config ignored by storage'))).toBe(true);
  });
});

describe('ReplicaManager when the process runs out of file descriptors (real EMFILE)', () => {
  const limits = () => {
    const match = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return { soft: Number(match![1]), hard: Number(match![2]) };
  };
  const setSoftLimit = (soft: number, hard: number) =>
    execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${soft}:${hard}`], { stdio: 'ignore' });
  /** Takes every descriptor the process has left. */
  const exhaust = (): number[] => {
    const taken: number[] = [];
    for (;;) {
      try {
        taken.push(openSync('/dev/null', 'r'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EMFILE') throw error;
        return taken;
      }
    }
  };

  it('sets aside only the replica it cannot open (its log dir stays online), answers the rest, and brings it back', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('healthy', {});
    await produce('healthy', 'before');
    await cluster.closeIdleLogFiles();
    const { soft, hard } = limits();
    setSoftLimit(readdirSync('/proc/self/fd').length + 64, hard);
    let taken: number[] = [];
    try {
      taken = exhaust();
      // The controller commits the topic; this broker cannot open its log.
      await createTopic('starved', {});
      expect(cluster.replicaManager.partition('starved', 0)).toBeUndefined();
      expect(cluster.replicaManager.setAsideReplicaKeys()).toEqual(['starved-0']);
      expect(await produceErrorCode('starved', 'x')).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      // The healthy partition's file is closed too: a clean, retriable storage error, no crash.
      expect(await produceErrorCode('healthy', 'x')).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      const metadata = await cluster.request(ApiKey.Metadata, 1, { topics: null });
      expect(metadata.topics.map((topic) => topic.name).sort()).toEqual(['healthy', 'starved']);
      // Still short of descriptors: the retry fails quietly and the replica stays set aside.
      await cluster.replicaManager.maintenance(cluster.clock.nowMs());
      expect(cluster.replicaManager.setAsideReplicaKeys()).toEqual(['starved-0']);
      // EMFILE is the process's limit, not the disk: no log dir went offline, nothing is offline
      // in Kafka's sense, and the controller is told of no offline replica.
      expect(cluster.logDirFailures.offlineLogDirs).toEqual([]);
      expect(cluster.replicaManager.isOffline('starved', 0)).toBe(false);
      expect(cluster.replicaManager.isOffline('healthy', 0)).toBe(false);
      expect(cluster.replicaManager.unreportedOfflineReplicas(100)).toEqual([]);
      expect(cluster.replicaManager.partition('healthy', 0)?.role).toBe('leader');
    } finally {
      for (const fd of taken) closeSync(fd);
      setSoftLimit(soft, hard);
    }
    const offlineLines = cluster.logLines.filter((line) => line.includes('"partition":"starved-0"'));
    expect(
      offlineLines.some((line) =>
        /cannot open the log of a local replica.*EMFILE|EMFILE.*cannot open the log/.test(line),
      ),
    ).toBe(true);
    expect(offlineLines.filter((line) => line.includes('"level":50'))).toHaveLength(1);

    await cluster.replicaManager.maintenance(cluster.clock.nowMs());
    expect(cluster.replicaManager.setAsideReplicaKeys()).toEqual([]);
    expect(cluster.replicaManager.partition('starved', 0)?.role).toBe('leader');
    expect(
      cluster.logLines.some((line) => line.includes('set-aside local replica opened: served again')),
    ).toBe(true);
    await produce('starved', 'after');
    await produce('healthy', 'after');
    expect(cluster.logDirFailures.offlineLogDirs).toEqual([]);
  });

  it('retries the set-aside replicas in turn, at most setAsideRetriesPerRunMax per maintenance run', async () => {
    cluster = await LocalClusterFixture.start();
    const partitionCount = setAsideRetriesPerRunMax + 36;
    const stillSetAside = () =>
      cluster.logLines.filter((line) => line.includes('local replica still set aside')).length;
    const { soft, hard } = limits();
    setSoftLimit(readdirSync('/proc/self/fd').length + 64, hard);
    let taken: number[] = [];
    try {
      taken = exhaust();
      const response = await cluster.request(ApiKey.CreateTopics, 4, {
        topics: [
          { name: 'many', numPartitions: partitionCount, replicationFactor: 1, assignments: [], configs: [] },
        ],
        timeoutMs: 1000,
        validateOnly: false,
      });
      expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
      expect(cluster.replicaManager.setAsideReplicaKeys()).toHaveLength(partitionCount);
      // One run holds the metadata queue for at most setAsideRetriesPerRunMax opens, however many
      // replicas wait; the next run starts with the ones this run did not reach.
      const waiting = cluster.replicaManager.setAsideReplicaKeys();
      await cluster.replicaManager.maintenance(cluster.clock.nowMs());
      expect(stillSetAside()).toBe(setAsideRetriesPerRunMax);
      const notReached = waiting.slice(setAsideRetriesPerRunMax);
      expect(cluster.replicaManager.setAsideReplicaKeys().slice(0, notReached.length)).toEqual(notReached);
    } finally {
      for (const fd of taken) closeSync(fd);
      setSoftLimit(soft, hard);
    }
    await cluster.replicaManager.maintenance(cluster.clock.nowMs());
    await cluster.replicaManager.maintenance(cluster.clock.nowMs());
    expect(cluster.replicaManager.setAsideReplicaKeys()).toEqual([]);
    for (let p = 0; p < partitionCount; p++) {
      expect(cluster.replicaManager.partition('many', p)?.role).toBe('leader');
    }
  });
});

describe('ReplicaManager when a log dir fails', () => {
  it('takes the replicas on it offline (not set aside): KAFKA_STORAGE_ERROR, reported until the metadata lists them offline', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('on-failed-dir', {});
    await produce('on-failed-dir', 'kept');
    const replicaManager = cluster.replicaManager;
    const partition = replicaManager.partition('on-failed-dir', 0)!;
    replicaManager.handleLogDirFailure(partition.log.logDir, 'test: the disk went away');

    expect(replicaManager.isOffline('on-failed-dir', 0)).toBe(true);
    // Permanent until a restart: not among the replicas the maintenance run retries.
    expect(replicaManager.setAsideReplicaKeys()).toEqual([]);
    await replicaManager.maintenance(cluster.clock.nowMs());
    expect(replicaManager.isOffline('on-failed-dir', 0)).toBe(true);
    expect(replicaManager.partition('on-failed-dir', 0)).toBeUndefined();
    expect(replicaManager.partition('on-failed-dir', 0)).toBeUndefined();
    expect(replicaManager.followerReplicas.followedPartitions()).toEqual([]);
    const produced = await cluster.request(ApiKey.Produce, 7, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [{ name: 'on-failed-dir', partitions: [{ partitionIndex: 0, records: batchOf(['lost']) }] }],
    });
    expect(produced.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    const fetched = await cluster.request(ApiKey.Fetch, 4, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [
        {
          topic: 'on-failed-dir',
          partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }],
        },
      ],
    });
    expect(fetched.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);

    // Reported in every heartbeat until the committed metadata lists it as offline here.
    const unreported = replicaManager.unreportedOfflineReplicas(100);
    expect(unreported).toEqual([{ topicId: partition.topicId, partitionIndex: 0 }]);
    await cluster.heartbeat(cluster.brokerId, { wantFence: false, offlineReplicas: unreported });
    expect(replicaManager.unreportedOfflineReplicas(100)).toEqual([]);
    const metadata = await cluster.request(ApiKey.Metadata, 7, {
      topics: [{ name: 'on-failed-dir' }],
      allowAutoTopicCreation: false,
    });
    // The only replica was the last ISR member: it stays there, nobody leads, and it is offline.
    expect(metadata.topics[0]!.partitions[0]).toMatchObject({
      leaderId: -1,
      isrNodes: [cluster.brokerId],
      offlineReplicas: [cluster.brokerId],
    });
  });
});
