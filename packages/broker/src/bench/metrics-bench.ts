// Metrics benchmark: `npm run bench:metrics` (not a test; its name keeps it out of the *.test.ts glob).
//
// What the request-path instrumentation costs, measured where it runs:
//   1. Produce requests (one batch of 10 × 100 B records, acks=1) through the production router,
//      Produce handler and replica manager of an in-process broker (its one partition's log on disk),
//      32 in flight, with metrics off (noBrokerMetrics, as gregor.metrics.port=-1) and on (the
//      recorder), in alternating order; best and median of the rounds, µs of wall and CPU time per
//      request.
//   2. The recorder's calls for one Produce request alone (the clock read twice, requestCompleted,
//      produced with the record count from the batch header), ns per request.
//   3. One scrape (the exporter rendering every series) with 100 topics and 20 request names, and
//      again with consumerGroupSeriesMax committed offsets (100 groups × 100 partitions) whose lag
//      takes the high watermarks of three leaders (readLeaderHighWatermarks with leaders answering
//      in-process: the exporter's and the merge's own cost, not the gRPC round trip).
// The machine is shared: rounds are interleaved and the best and the median are printed, not a mean.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, systemRandom, systemTimers } from '@gregor/ground';
import { applyRecords, MetadataImage, uuidFromBytes } from '@gregor/metadata';
import {
  ApiKey,
  CompressionType,
  ErrorCode,
  encodeRecordBatch,
  encodeRequest,
  type RequestInput,
} from '@gregor/protocol';
import { defaultLogConfig, LogManager } from '@gregor/storage';
import pino from 'pino';
import { apiHandlers } from '../apis/api-handlers.js';
import type { BrokerContext } from '../apis/broker-context.js';
import { recordCountOf } from '../apis/produce.js';
import { DelayedOperations } from '../delayed/delayed-operations.js';
import {
  FetchSessionCache,
  fetchSessionCachedPartitionsMax,
  fetchSessionCacheSlotsDefault,
  minIncrementalFetchSessionEvictionMs,
} from '../fetch-sessions/fetch-session-cache.js';
import { type BrokerMetrics, BrokerMetricsRecorder, noBrokerMetrics } from '../metrics/broker-metrics.js';
import { type ConsumerGroupOffset, readLeaderHighWatermarks } from '../metrics/consumer-group-lag.js';
import { consumerGroupSeriesMax, createMetricsExporter } from '../metrics/prometheus-exporter.js';
import type { FrameHandler } from '../network/connection.js';
import { LogManagerStore } from '../replica/log-store.js';
import { ReplicaManager } from '../replica/replica-manager.js';
import type { HighWatermarkPartition } from '../replication/leader-high-watermarks-grpc.js';
import { createRequestRouter } from '../request-router.js';

const requestsPerRound = 20_000;
const inFlightMax = 32;
const rounds = 7;
const recorderCalls = 1_000_000;
const topic = 'bench';
const brokerId = 1;
const windows = { windowMs: 30_000, samples: 2 };
const logger = pino({ level: 'silent' });
const topicId = uuidFromBytes(Buffer.alloc(16, 7));

/** Broker 1, registered and unfenced, leading the one partition of `topic`. */
const image = applyRecords(MetadataImage.empty, [
  {
    type: 'registerBroker',
    brokerId,
    incarnationId: uuidFromBytes(Buffer.alloc(16, 1)),
    brokerEpoch: 0,
    listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9092, securityProtocol: 0 }],
    rack: null,
    fenced: true,
    inControlledShutdown: false,
  },
  { type: 'unfenceBroker', brokerId, brokerEpoch: 0 },
  { type: 'topic', name: topic, topicId },
  {
    type: 'partition',
    topicId,
    partitionIndex: 0,
    replicas: [brokerId],
    isr: [brokerId],
    leader: brokerId,
    leaderEpoch: 0,
    partitionEpoch: 0,
  },
]);

interface Broker {
  readonly router: FrameHandler;
  close(): Promise<void>;
}

interface Round {
  readonly wallUs: number;
  readonly cpuUs: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function newRecorder(): BrokerMetricsRecorder {
  return new BrokerMetricsRecorder(
    windows,
    () => performance.now(),
    () => true,
  );
}

/** The production router, Produce handler and replica manager over a log dir of its own. */
async function startBroker(metrics: BrokerMetrics): Promise<Broker> {
  const logDir = await mkdtemp(join(tmpdir(), 'gregor-metrics-bench-'));
  const logManager = await LogManager.open({
    config: { logDirs: [logDir], defaults: defaultLogConfig },
    clock: systemClock,
  });
  const delayedOperations = new DelayedOperations(systemTimers);
  const replicaManager = new ReplicaManager({
    brokerId,
    logStore: new LogManagerStore(logManager),
    brokerLogConfig: defaultLogConfig,
    clock: systemClock,
    timers: systemTimers,
    delayedOperations,
    logger,
  });
  await replicaManager.applyMetadata(image);
  const refuse = () => Promise.reject(new Error('no controller in this benchmark'));
  const context: BrokerContext = {
    brokerId,
    clusterId: 'bench',
    settings: {
      numPartitions: 1,
      defaultReplicationFactor: 1,
      autoCreateTopicsEnable: false,
      deleteTopicEnable: true,
      brokerLogConfig: defaultLogConfig,
      describedConfigs: [],
    },
    metadata: { image: () => image, controllerId: () => brokerId, appliedOffset: () => 0 },
    fetchSessions: new FetchSessionCache(
      {
        slots: fetchSessionCacheSlotsDefault,
        evictionMs: minIncrementalFetchSessionEvictionMs,
        cachedPartitionsMax: fetchSessionCachedPartitionsMax,
      },
      systemRandom,
    ),
    controller: {
      createTopics: refuse,
      deleteTopics: refuse,
      createPartitions: refuse,
      incrementalAlterConfigs: refuse,
      alterUserScramCredentials: refuse,
      createDelegationToken: refuse,
      renewDelegationToken: refuse,
      expireDelegationToken: refuse,
      createAcls: refuse,
      deleteAcls: refuse,
      electLeaders: refuse,
      alterPartitionReassignments: refuse,
      alterClientQuotas: refuse,
      unregisterBroker: refuse,
      updateFeatures: refuse,
    },
    replicaManager,
    clock: systemClock,
    logger,
    metrics,
  };
  return {
    router: createRequestRouter(context, apiHandlers()),
    close: async () => {
      replicaManager.close();
      delayedOperations.expireAll();
      await logManager.close();
      await rm(logDir, { recursive: true, force: true });
    },
  };
}

function recordBatch(): Buffer {
  return encodeRecordBatch({
    compression: CompressionType.None,
    records: Array.from({ length: 10 }, (_, index) => ({
      key: null,
      value: Buffer.alloc(100, 120),
      timestamp: 1_700_000_000_000 + index,
    })),
  });
}

function produceFrame(): Buffer {
  const body: RequestInput<typeof ApiKey.Produce> = {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, records: recordBatch() }] }],
  };
  return encodeRequest(ApiKey.Produce, 7, 1, 'bench', body);
}

/** Sends `requestsPerRound` Produce frames, `inFlightMax` at a time; per-request wall and CPU µs. */
async function produceRound(broker: Broker, frame: Buffer): Promise<Round> {
  let sent = 0;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const worker = async () => {
    while (sent < requestsPerRound) {
      sent++;
      const outcome = await broker.router(frame, {
        connectionId: 1,
        remoteAddress: '127.0.0.1:1',
        listenerName: 'PLAINTEXT',
      });
      if (outcome.kind !== 'respond') throw new Error(`produce failed: ${JSON.stringify(outcome)}`);
    }
  };
  await Promise.all(Array.from({ length: inFlightMax }, worker));
  const wallUs = ((performance.now() - start) * 1000) / requestsPerRound;
  const cpu = process.cpuUsage(cpuBefore);
  return { wallUs, cpuUs: (cpu.user + cpu.system) / requestsPerRound };
}

/** ns per Produce request of the recorder calls the router and the Produce handler make. */
function recorderRound(recorder: BrokerMetricsRecorder, records: Buffer): number {
  // The handler takes the record count from the append's validation; it does not walk the batches.
  const recordCount = recordCountOf(records);
  const start = performance.now();
  for (let call = 0; call < recorderCalls; call++) {
    const startMs = recorder.nowMs();
    recorder.produced(topic, recordCount, records.length);
    recorder.requestCompleted('Produce', 7, startMs, recorder.nowMs());
  }
  return ((performance.now() - start) * 1e6) / recorderCalls;
}

const benchGroups = 100;
const benchGroupPartitions = consumerGroupSeriesMax / benchGroups;
const benchLeaders = 3;

/** Every group committed offset 10 on partitions 0..99 of `orders`; partition p is led by broker p % 3 + 1. */
function benchGroupOffsets(): ConsumerGroupOffset[] {
  const offsets: ConsumerGroupOffset[] = [];
  for (let group = 0; group < benchGroups; group++)
    for (let partition = 0; partition < benchGroupPartitions; partition++)
      offsets.push({ groupId: `group-${group}`, topic: 'orders', partition, offset: 10 });
  return offsets;
}

async function answerAll(partitions: readonly HighWatermarkPartition[]) {
  return partitions.map(({ topic, partition }) => ({
    topic,
    partition,
    errorCode: ErrorCode.NONE,
    highWatermark: 1_000,
  }));
}

async function scrape(withGroups = false): Promise<{ ms: number; bytes: number }> {
  const groupOffsets = withGroups ? benchGroupOffsets() : [];
  const recorder = newRecorder();
  for (let index = 0; index < 100; index++) recorder.produced(`topic-${index}`, 10, 1000);
  for (let index = 0; index < 20; index++) recorder.requestCompleted(`Request${index}`, 3, 0, 1);
  const exporter = createMetricsExporter({
    brokerId,
    recorder,
    image: () => image,
    isReplicaOffline: () => false,
    minInsyncReplicas: () => 1,
    offlineLogDirCount: () => 0,
    replicationThrottledByteRates: () => ({ leader: 0, follower: 0, alterLogDirs: 0 }),
    brokerState: () => 3,
    requestMemory: () => ({ capacityBytes: -1, usedBytes: 0, usedBytesMax: 0, waitingConnections: 0 }),
    fetchSessions: () => ({ sessions: 0, cachedPartitions: 0, evictions: 0 }),
    raftStatus: () => ({
      role: 'leader',
      epoch: 1,
      leaderId: 1,
      votedFor: 1,
      highWatermark: 0,
      logEndOffset: 0,
    }),
    isActiveController: () => true,
    consumerGroupOffsets: (limit) => groupOffsets.slice(0, limit),
    leaderHighWatermarks: (offsets) =>
      readLeaderHighWatermarks(offsets, (_topic, partition) => (partition % benchLeaders) + 1, {
        localBrokerId: brokerId,
        readLocal: answerAll,
        readRemote: (_leaderId, partitions) => answerAll(partitions),
      }),
  });
  let best = Number.POSITIVE_INFINITY;
  let bytes = 0;
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    const text = await exporter.render();
    best = Math.min(best, performance.now() - start);
    bytes = text.length;
  }
  return { ms: best, bytes };
}

async function main(): Promise<void> {
  const frame = produceFrame();
  const off = await startBroker(noBrokerMetrics);
  const on = await startBroker(newRecorder());
  const results = { off: [] as Round[], on: [] as Round[] };
  try {
    // Warm-up: JIT and the page cache, for both.
    await produceRound(off, frame);
    await produceRound(on, frame);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const variant of order)
        results[variant].push(await produceRound(variant === 'off' ? off : on, frame));
    }
  } finally {
    await off.close();
    await on.close();
  }
  const records = recordBatch();
  const recorderNs = Array.from({ length: rounds }, () => recorderRound(newRecorder(), records));
  const scraped = await scrape();
  const scrapedGroups = await scrape(true);

  const row = (name: string, measured: Round[]) =>
    `| ${name} | ${Math.min(...measured.map((r) => r.wallUs)).toFixed(1)} | ${median(measured.map((r) => r.wallUs)).toFixed(1)} | ${Math.min(...measured.map((r) => r.cpuUs)).toFixed(1)} | ${median(measured.map((r) => r.cpuUs)).toFixed(1)} |`;
  console.log(
    `Produce through the router (10 × 100 B records, acks=1, ${inFlightMax} in flight, ${requestsPerRound} requests × ${rounds} rounds)`,
  );
  console.log('| metrics | wall µs/request best | median | CPU µs/request best | median |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(row('off (gregor.metrics.port=-1)', results.off));
  console.log(row('on (recorder)', results.on));
  console.log(
    `\nRecorder calls for one Produce request: ${Math.min(...recorderNs).toFixed(0)} ns best, ${median(recorderNs).toFixed(0)} ns median`,
  );
  console.log(
    `One scrape (100 topics, 20 request names, Node.js defaults): ${scraped.ms.toFixed(2)} ms best, ${scraped.bytes} bytes`,
  );
  console.log(
    `The same with ${consumerGroupSeriesMax} committed offsets and their lag from ${benchLeaders} leaders: ${scrapedGroups.ms.toFixed(2)} ms best, ${scrapedGroups.bytes} bytes`,
  );
}

await main();
