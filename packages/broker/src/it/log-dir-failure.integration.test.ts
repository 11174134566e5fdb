// A broker whose log dir fills up, for real: broker 3 of a three-broker process cluster has two log
// dirs, the second a tiny tmpfs (mounting one needs root, which the development machines and CI
// have). Filling the tmpfs:
// - a plain append that does not fit is refused with KAFKA_STORAGE_ERROR (kafkajs and kcat see it),
//   the dir stays online, and appends go on once space is freed;
// - a segment roll that fails there leaves a log in an unknown state: the whole dir goes offline
//   (LogDirFailureChannel), broker 3 reports its replicas there in its heartbeat, the controller
//   moves their leadership to other ISR members and drops broker 3 from their ISRs, Metadata lists
//   broker 3 among their offline replicas, and broker 3 keeps serving the partitions of its other
//   dir. Every acknowledged record is read back from the leaders at the end.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { appendFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { type PartitionView, RawClusterClient } from '../testing/raw-cluster-client.js';

const tmpfsBytes = 4 * 1024 * 1024;
const failingBroker = 3;
const partitionCount = 12;
const waitTimeoutMs = 30_000;
const kcatTimeoutMs = 30_000;
/** segment.ms of the topic whose roll fails: short, so the next append after the wait rolls. */
const rollAfterMs = 2_000;

let mountPoint: string;
let cluster: ProcessCluster;
let client: RawClusterClient;
let kafka: Kafka;
let producer: Producer;
/** Every value a broker acknowledged, per `<topic>/<partition>`, in acknowledgement order. */
const acknowledged = new Map<string, string[]>();
/** Values whose produce was refused, which must never show up. */
const refused = new Set<string>();

/** librdkafka's text for KAFKA_STORAGE_ERROR (56). */
const kcatStorageError = /Disk error when trying to access log file on disk/;
/**
 * Big enough never to fit in the slack of a page the log file already holds (tmpfs allocates
 * whole pages): a refused value must need new space.
 */
const pageFiller = 'x'.repeat(16 * 1024);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const waitOptions: WaitForOptions = {
  timeoutMs: waitTimeoutMs,
  intervalMs: 100,
  detail: () => cluster.tail(40),
};

function tmpfsLogDir(): string {
  return join(mountPoint, 'logs');
}

/** Whether broker 3 keeps `topic-partition` on the tmpfs dir. */
function onTmpfs(topic: string, partition: number): boolean {
  return existsSync(join(tmpfsLogDir(), `${topic}-${partition}`));
}

/** Writes a file on the tmpfs until it refuses another byte. */
async function fillUp(path: string): Promise<void> {
  for (const chunkBytes of [256 * 1024, 4096, 512, 1]) {
    for (;;) {
      try {
        await appendFile(path, Buffer.alloc(chunkBytes));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
  }
}

async function partitionView(topic: string, partition: number): Promise<PartitionView> {
  return waitFor(`metadata of ${topic}-${partition}`, () => client.partition(topic, partition), waitOptions);
}

async function createTopic(topic: string, configs: Record<string, string>): Promise<PartitionView[]> {
  expect(await client.createTopic(1, topic, partitionCount, 3, configs)).toBe(ErrorCode.NONE);
  const views: PartitionView[] = [];
  for (let partition = 0; partition < partitionCount; partition++) {
    views.push(
      await waitFor(
        `a leader for ${topic}-${partition}`,
        async () => {
          const view = await client.partition(topic, partition);
          return view !== undefined && view.leaderId >= 0 && view.isr.length === 3 ? view : undefined;
        },
        waitOptions,
      ),
    );
    await waitFor(
      `broker 3's log of ${topic}-${partition}`,
      async () =>
        onTmpfs(topic, partition) ||
        existsSync(join(cluster.node(3).dataDir, 'logs', `${topic}-${partition}`))
          ? true
          : undefined,
      waitOptions,
    );
  }
  return views;
}

/** A partition broker 3 leads, on its tmpfs dir (`tmpfs`) or on its other dir. */
function ledByFailingBroker(topic: string, views: readonly PartitionView[], tmpfs: boolean): number {
  const partition = views.findIndex(
    (view, index) => view.leaderId === failingBroker && onTmpfs(topic, index) === tmpfs,
  );
  // Leaders are placed round robin and partitions alternate between broker 3's dirs, so each kind
  // exists among 12 partitions.
  expect(
    partition,
    `a partition of ${topic} led by broker 3 ${tmpfs ? 'on' : 'off'} the tmpfs`,
  ).toBeGreaterThanOrEqual(0);
  return partition;
}

/** kafkajs, acks=all; the value counts as acknowledged only once send() resolved with its partition. */
async function send(topic: string, partition: number, value: string): Promise<void> {
  const metadata = await producer.send({ topic, acks: -1, messages: [{ value, partition }] });
  expect(metadata.map((entry) => [entry.partition, entry.errorCode])).toEqual([[partition, 0]]);
  const key = `${topic}/${partition}`;
  acknowledged.set(key, [...(acknowledged.get(key) ?? []), value]);
}

/** The `type` of every error in kafkajs's chain (retries wrap the broker's error). */
function kafkajsErrorTypes(error: unknown): string[] {
  const types: string[] = [];
  let current = error as { type?: string; cause?: unknown; originalError?: unknown } | undefined;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    if (typeof current.type === 'string') types.push(current.type);
    current = (current.cause ?? current.originalError) as typeof current;
  }
  return types;
}

function kcatProduce(
  topic: string,
  partition: number,
  value: string,
): { status: number | null; stderr: string } {
  const result = spawnSync(
    'kcat',
    [
      '-b',
      cluster.bootstrap,
      '-P',
      '-t',
      topic,
      '-p',
      String(partition),
      '-X',
      'request.required.acks=-1',
      '-X',
      'message.send.max.retries=0',
    ],
    { input: `${value}\n`, timeout: kcatTimeoutMs },
  );
  return { status: result.status, stderr: result.stderr.toString('utf8') };
}

function kcatConsume(topic: string, partition: number): string[] {
  const output = execFileSync(
    'kcat',
    [
      '-b',
      cluster.bootstrap,
      '-C',
      '-t',
      topic,
      '-p',
      String(partition),
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      '%s\n',
    ],
    { timeout: kcatTimeoutMs },
  ).toString('utf8');
  return output.split('\n').filter((line) => line.length > 0);
}

/** Every acknowledged value is on the partition's current leader, in order; no refused one is. */
function expectNothingAcknowledgedLost(): void {
  let total = 0;
  for (const [key, values] of acknowledged) {
    const [topic, partition] = key.split('/') as [string, string];
    const stored = kcatConsume(topic, Number(partition));
    const storedOnce = stored.filter((value, index) => stored.indexOf(value) === index);
    // A produce retried after a lost answer may store a value twice; none may be lost, reordered,
    // or stored without having been acknowledged (the refused ones above all).
    expect(storedOnce, key).toEqual(values);
    expect(
      stored.filter((value) => refused.has(value)),
      key,
    ).toEqual([]);
    total += values.length;
  }
  expect(total).toBeGreaterThan(0);
}

describe('a broker whose log dir fills up (tmpfs, three broker processes, kcat and kafkajs)', () => {
  beforeAll(async () => {
    mountPoint = mkdtempSync(join(tmpdir(), 'gregor-it-full-dir-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsBytes}`, 'tmpfs', mountPoint], {
        stdio: 'pipe',
      });
    } catch (error) {
      throw new Error(
        `this test mounts a ${tmpfsBytes}-byte tmpfs and needs root: ${(error as Error).message}`,
      );
    }
    cluster = await ProcessCluster.start({
      nodeCount: 3,
      properties: { 'auto.create.topics.enable': 'false', 'replica.lag.time.max.ms': '5000' },
      // The tmpfs is broker 3's second dir: its first keeps the metadata log, which must not fail.
      nodeProperties: (nodeId, dataDir): Record<string, string> =>
        nodeId === failingBroker ? { 'log.dirs': `${join(dataDir, 'logs')},${tmpfsLogDir()}` } : {},
    });
    client = new RawClusterClient(cluster);
    kafka = new Kafka({
      clientId: 'log-dir-failure-it',
      brokers: cluster.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  }, 120_000);

  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    client?.close();
    await cluster?.close();
    // Lazy: a process killed mid-test may still hold files there; the mount goes away regardless.
    execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('refuses appends that do not fit with KAFKA_STORAGE_ERROR, keeps the dir online, and takes them again once there is space', async () => {
    const topic = 'disk-full';
    const views = await createTopic(topic, {});
    const full = ledByFailingBroker(topic, views, true);
    const healthy = ledByFailingBroker(topic, views, false);
    for (let i = 0; i < 5; i++) {
      await send(topic, full, `full-before-${i}`);
      await send(topic, healthy, `healthy-before-${i}`);
    }
    const filler = join(mountPoint, 'filler');
    await fillUp(filler);

    // kafkajs retries the retriable storage error, then gives up with it.
    const failure = await producer
      .send({ topic, acks: -1, messages: [{ value: `kafkajs-refused-${pageFiller}`, partition: full }] })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    refused.add(`kafkajs-refused-${pageFiller}`);
    expect(kafkajsErrorTypes(failure)).toContain('KAFKA_STORAGE_ERROR');
    // kcat (librdkafka) names the same broker error.
    const kcatRefused = kcatProduce(topic, full, `kcat-refused-${pageFiller}`);
    refused.add(`kcat-refused-${pageFiller}`);
    expect(kcatRefused.stderr).toMatch(kcatStorageError);
    // The refusal took nothing offline: broker 3 still leads the partition, with its full ISR.
    const during = await partitionView(topic, full);
    expect(during).toMatchObject({ leaderId: failingBroker, offlineReplicas: [] });
    expect(during.isr).toHaveLength(3);
    // Its partitions on the other dir are untouched.
    await send(topic, healthy, 'healthy-during');
    expect(kcatProduce(topic, healthy, 'healthy-during-kcat').status).toBe(0);
    acknowledged.get(`${topic}/${healthy}`)!.push('healthy-during-kcat');

    // Space again: the very same log takes appends, from kafkajs and kcat alike.
    await unlink(filler);
    await send(topic, full, 'full-after');
    expect(kcatProduce(topic, full, 'full-after-kcat').status).toBe(0);
    acknowledged.get(`${topic}/${full}`)!.push('full-after-kcat');
    expect(await partitionView(topic, full)).toMatchObject({ leaderId: failingBroker, offlineReplicas: [] });
    expectNothingAcknowledgedLost();
  }, 120_000);

  it('takes the whole dir offline when a roll fails there: leaderships move, the other dir keeps serving, nothing acknowledged is lost', async () => {
    const topic = 'dir-fails';
    const views = await createTopic(topic, { 'segment.ms': String(rollAfterMs) });
    const rolling = ledByFailingBroker(topic, views, true);
    const healthy = ledByFailingBroker(topic, views, false);
    for (let i = 0; i < 5; i++) await send(topic, rolling, `rolling-before-${i}`);
    const filler = join(mountPoint, 'filler');
    await fillUp(filler);
    // The next append rolls the segment, and the roll must write the old segment's indexes.
    await sleep(rollAfterMs + 500);
    const kcatRefused = kcatProduce(topic, rolling, 'kcat-at-roll');
    refused.add('kcat-at-roll');
    expect(kcatRefused.stderr).toMatch(kcatStorageError);

    // The controller moves every partition of the failed dir away from broker 3.
    const failedPartitions = [
      ...[...Array(partitionCount).keys()]
        .filter((p) => onTmpfs('disk-full', p))
        .map((p) => ['disk-full', p] as const),
      ...[...Array(partitionCount).keys()].filter((p) => onTmpfs(topic, p)).map((p) => [topic, p] as const),
    ];
    expect(failedPartitions.length).toBeGreaterThanOrEqual(partitionCount);
    for (const [failedTopic, partition] of failedPartitions) {
      const view = await waitFor(
        `${failedTopic}-${partition} without broker 3`,
        async () => {
          const candidate = await client.partition(failedTopic, partition);
          return candidate !== undefined &&
            candidate.leaderId >= 0 &&
            candidate.leaderId !== failingBroker &&
            !candidate.isr.includes(failingBroker) &&
            candidate.offlineReplicas.includes(failingBroker)
            ? candidate
            : undefined;
        },
        waitOptions,
      );
      expect(view.replicas).toContain(failingBroker);
    }
    // Broker 3 itself answers KAFKA_STORAGE_ERROR for its offline replica...
    const direct = await client.produce(failingBroker, topic, rolling, ['direct-to-offline'], 1);
    refused.add('direct-to-offline');
    expect(direct.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    // ... stays up, and goes on leading the partitions of its other dir.
    expect(cluster.node(failingBroker).process?.exitCode).toBeNull();
    for (const [otherTopic, otherViews] of [
      ['disk-full', undefined],
      [topic, views],
    ] as const) {
      for (let partition = 0; partition < partitionCount; partition++) {
        if (onTmpfs(otherTopic, partition)) continue;
        const before = otherViews?.[partition] ?? (await partitionView(otherTopic, partition));
        if (before.leaderId !== failingBroker) continue;
        expect(await partitionView(otherTopic, partition), `${otherTopic}-${partition}`).toMatchObject({
          leaderId: failingBroker,
          offlineReplicas: [],
        });
      }
    }
    await send(topic, healthy, 'healthy-after-failure');
    expect(kcatProduce(topic, healthy, 'healthy-after-failure-kcat').status).toBe(0);
    acknowledged.set(`${topic}/${healthy}`, [
      ...(acknowledged.get(`${topic}/${healthy}`) ?? []),
      'healthy-after-failure-kcat',
    ]);
    // kafkajs retries through to the new leader of the failed dir's partition.
    await send(topic, rolling, 'rolling-after-failure');

    // Every acknowledged record, from both tests, is on the current leaders, in order.
    expectNothingAcknowledgedLost();
    await unlink(filler);
  }, 120_000);
});
