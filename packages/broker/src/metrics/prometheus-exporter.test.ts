import type { Clock } from '@gregor/ground';
import { ApiKey, ErrorCode, zeroUuid } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestMemoryPool } from '../network/request-memory-pool.js';
import { localHighWatermarks } from '../replication/leader-high-watermarks-grpc.js';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { BrokerMetricsRecorder } from './broker-metrics.js';
import { readLeaderHighWatermarks } from './consumer-group-lag.js';
import {
  type ConsumerGroupOffset,
  createMetricsExporter,
  type MetricsSources,
  type RaftMetricsStatus,
} from './prometheus-exporter.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

/** Series of the text format by `name{label="value",...}` with labels sorted; comments skipped. */
function parse(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter((pair) => pair !== '')
      .sort();
    series.set(labels.length === 0 ? match[1]! : `${match[1]}{${labels.join(',')}}`, Number(match[3]));
  }
  return series;
}

interface Harness {
  readonly recorder: BrokerMetricsRecorder;
  readonly render: () => Promise<Map<string, number>>;
  readonly sources: {
    raft: RaftMetricsStatus;
    active: boolean;
    groups: ConsumerGroupOffset[];
    readonly memory: RequestMemoryPool;
  };
}

async function start(options: { requestClock?: Clock } = {}): Promise<Harness> {
  let nowMs = 0;
  const recorder = new BrokerMetricsRecorder(
    { windowMs: 30_000, samples: 2 },
    () => (nowMs += 0.5),
    (topic) => cluster.image().topic(topic) !== undefined,
  );
  cluster = await LocalClusterFixture.start({ metrics: recorder, ...options });
  const state: Harness['sources'] = {
    raft: { role: 'leader', epoch: 3, leaderId: 1, votedFor: 1, highWatermark: 42, logEndOffset: 43 },
    active: true,
    groups: [],
    memory: new RequestMemoryPool(4096),
  };
  const sources: MetricsSources = {
    brokerId: cluster.brokerId,
    recorder,
    image: () => cluster.image(),
    isReplicaOffline: (topic, partition) => cluster.replicaManager.isOffline(topic, partition),
    minInsyncReplicas: () => 2,
    offlineLogDirCount: () => 0,
    replicationThrottledByteRates: () =>
      cluster.replicaManager.replicationThrottles.byteRates(cluster.clock.nowMs()),
    brokerState: () => 3,
    requestMemory: () => ({
      capacityBytes: state.memory.capacityBytes,
      usedBytes: state.memory.reservedBytes,
      usedBytesMax: state.memory.reservedBytesMax,
      waitingConnections: state.memory.waitingCount,
    }),
    fetchSessions: () => ({
      sessions: cluster.context.fetchSessions.sessionCount,
      cachedPartitions: cluster.context.fetchSessions.cachedPartitionCount,
      evictions: cluster.context.fetchSessions.evictionCount,
    }),
    raftStatus: () => state.raft,
    isActiveController: () => state.active,
    consumerGroupOffsets: (limit) => state.groups.slice(0, limit),
    // One broker: every partition with a leader is led here.
    leaderHighWatermarks: (offsets) =>
      readLeaderHighWatermarks(
        offsets,
        (topic, partition) => cluster.image().topic(topic)?.partitions[partition]?.leader,
        {
          localBrokerId: cluster.brokerId,
          readLocal: (partitions) => localHighWatermarks(cluster.replicaManager, partitions),
          readRemote: () => Promise.reject(new Error('a single broker has no other leader')),
        },
      ),
  };
  const exporter = createMetricsExporter(sources);
  expect(exporter.contentType).toMatch(/^text\/plain; version=0.0.4/);
  return { recorder, sources: state, render: async () => parse(await exporter.render()) };
}

async function createTopic(name: string, numPartitions: number): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function produce(topic: string, partitions: { index: number; records: Buffer }[]): Promise<number[]> {
  const response = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [
      {
        name: topic,
        partitions: partitions.map(({ index, records }) => ({ partitionIndex: index, records })),
      },
    ],
  });
  return response.responses[0]!.partitions.map((partition) => partition.errorCode);
}

async function fetchThrottled(topic: string, partition: number): Promise<void> {
  const response = await cluster.request(ApiKey.Fetch, 11, fetchRequest(topic, partition));
  expect(response.throttleTimeMs).toBeGreaterThan(0);
}

function fetchRequest(topic: string, partition: number) {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

async function fetchFrom(topic: string, partition: number): Promise<number> {
  const response = await cluster.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset: 0,
            logStartOffset: -1,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  return response.responses[0]!.partitions[0]!.records!.length;
}

describe('the Prometheus exporter', () => {
  it('counts records and bytes in per topic and for all topics, once per request, and bytes out to consumers', async () => {
    const { render } = await start();
    await createTopic('orders', 2);
    await createTopic('audit', 1);
    const first = Buffer.concat([batchOf(['a', 'b', 'c']), batchOf(['d', 'e'])]);
    const second = batchOf(['f']);
    expect(
      await produce('orders', [
        { index: 0, records: first },
        { index: 1, records: second },
      ]),
    ).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    // A partition that does not exist appends nothing and counts nothing.
    const refused = batchOf(['nope']);
    expect(await produce('orders', [{ index: 7, records: refused }])).toEqual([
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ]);
    expect(await produce('audit', [{ index: 0, records: second }])).toEqual([ErrorCode.NONE]);
    const fetched = await fetchFrom('orders', 0);

    const series = await render();
    expect(series.get('kafka_server_brokertopicmetrics_messagesin_total{topic="orders"}')).toBe(6);
    expect(series.get('kafka_server_brokertopicmetrics_messagesin_total{topic="audit"}')).toBe(1);
    expect(series.get('kafka_server_brokertopicmetrics_messagesin_total')).toBe(7);
    expect(series.get('kafka_server_brokertopicmetrics_bytesin_total{topic="orders"}')).toBe(
      first.length + second.length,
    );
    expect(series.get('kafka_server_brokertopicmetrics_bytesin_total')).toBe(
      first.length + 2 * second.length,
    );
    expect(fetched).toBeGreaterThan(0);
    expect(series.get('kafka_server_brokertopicmetrics_bytesout_total{topic="orders"}')).toBe(fetched);
    expect(series.get('kafka_server_brokertopicmetrics_bytesout_total')).toBe(fetched);
  });

  it('reports the average throttle time of clients over their byte-rate quota by user and client id', async () => {
    const { render } = await start();
    await createTopic('orders', 1);
    const quota = await cluster.request(ApiKey.AlterClientQuotas, 1, {
      entries: [
        {
          entity: [{ entityType: 'client-id', entityName: 'fixture-client' }],
          ops: [
            { key: 'producer_byte_rate', value: 1000, remove: false },
            { key: 'consumer_byte_rate', value: 1000, remove: false },
          ],
        },
      ],
      validateOnly: false,
    });
    expect(quota.entries[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(
      (await render()).has('kafka_server_produce_throttle_time{client_id="fixture-client",user=""}'),
    ).toBe(false);
    const big = batchOf([Buffer.alloc(30_000, 'x').toString()]);
    expect(await produce('orders', [{ index: 0, records: big }])).toEqual([ErrorCode.NONE]);
    await fetchThrottled('orders', 0);
    const series = await render();
    // 30 kB over a fresh 10 s window: 3 kB/s against 1 kB/s, so about 20 s.
    expect(
      series.get('kafka_server_produce_throttle_time{client_id="fixture-client",user=""}'),
    ).toBeGreaterThan(19_000);
    expect(
      series.get('kafka_server_fetch_throttle_time{client_id="fixture-client",user=""}'),
    ).toBeGreaterThan(0);
  });

  it('reports the average throttle time of clients over their request_percentage', async () => {
    let requestNowMs = 0;
    let requestStepMs = 0;
    const { render } = await start({ requestClock: { nowMs: () => (requestNowMs += requestStepMs) } });
    const quota = await cluster.request(ApiKey.AlterClientQuotas, 1, {
      entries: [
        {
          entity: [{ entityType: 'user', entityName: null }],
          ops: [{ key: 'request_percentage', value: 0.5, remove: false }],
        },
      ],
      validateOnly: false,
    });
    expect(quota.entries[0]!.errorCode).toBe(ErrorCode.NONE);
    requestStepMs = 100; // 200 ms a request: 2 % of the 10 s window against 0.5 %
    await createTopic('orders', 1);
    // The default user's quota is shared by the user's clients: tagged with the user, no client id.
    expect((await render()).get('kafka_server_request_throttle_time{client_id="",user="ANONYMOUS"}')).toBe(
      1_000,
    );
  });

  it('counts and times requests under Kafka request names, Fetch also as FetchConsumer', async () => {
    const { render } = await start();
    await createTopic('orders', 1);
    await produce('orders', [{ index: 0, records: batchOf(['a']) }]);
    await produce('orders', [{ index: 0, records: batchOf(['b']) }]);
    await fetchFrom('orders', 0);

    const series = await render();
    expect(series.get('kafka_network_requestmetrics_requests_total{request="Produce",version="7"}')).toBe(2);
    expect(
      series.get('kafka_network_requestmetrics_requests_total{request="CreateTopics",version="4"}'),
    ).toBe(1);
    expect(series.get('kafka_network_requestmetrics_requests_total{request="Fetch",version="11"}')).toBe(1);
    expect(
      series.get('kafka_network_requestmetrics_requests_total{request="FetchConsumer",version="11"}'),
    ).toBe(1);
    expect(series.get('kafka_network_requestmetrics_totaltimems_count{request="Produce"}')).toBe(2);
    // The test clock advances 0.5 ms per reading: every request took 0.5 ms.
    expect(series.get('kafka_network_requestmetrics_totaltimems_sum{request="Produce"}')).toBe(1);
    for (const quantile of ['0.50', '0.75', '0.95', '0.98', '0.99', '0.999']) {
      const value = series.get(
        `kafka_network_requestmetrics_totaltimems{quantile="${quantile}",request="Produce"}`,
      );
      expect(value).toBeGreaterThanOrEqual(0.5);
      expect(value).toBeLessThan(0.55);
    }
  });

  it('reads the replica, controller and raft gauges from the state at scrape time', async () => {
    const harness = await start();
    await createTopic('orders', 3);
    let series = await harness.render();
    expect(series.get('kafka_server_replicamanager_partitioncount')).toBe(3);
    expect(series.get('kafka_server_replicamanager_leadercount')).toBe(3);
    expect(series.get('kafka_server_replicamanager_underreplicatedpartitions')).toBe(0);
    // Replication factor 1 is below the min.insync.replicas of 2 the sources say.
    expect(series.get('kafka_server_replicamanager_underminisrpartitioncount')).toBe(3);
    expect(series.get('kafka_controller_kafkacontroller_activecontrollercount')).toBe(1);
    expect(series.get('kafka_controller_kafkacontroller_globaltopiccount')).toBe(1);
    expect(series.get('kafka_controller_kafkacontroller_globalpartitioncount')).toBe(3);
    expect(series.get('kafka_controller_kafkacontroller_offlinepartitionscount')).toBe(0);
    expect(series.get('kafka_server_raftmetrics_current_leader')).toBe(1);
    expect(series.get('kafka_server_raftmetrics_current_epoch')).toBe(3);
    expect(series.get('kafka_server_raftmetrics_high_watermark')).toBe(42);
    expect(series.get('kafka_server_raftmetrics_current_state{current_state="leader"}')).toBe(1);
    expect(series.get('kafka_server_raftmetrics_commit_latency_avg')).toBeNaN();
    expect(series.get('kafka_server_kafkaserver_brokerstate')).toBe(3);
    expect(series.get('kafka_server_fetchsessioncache_numincrementalfetchsessions')).toBe(0);
    expect(series.get('kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total')).toBe(0);
    expect(series.get('kafka_network_socketserver_memorypoolavailable')).toBe(4096);
    expect(series.get('kafka_network_socketserver_memorypoolused')).toBe(0);
    expect(series.get('gregor_request_memory_used_max_bytes')).toBe(0);
    expect(series.get('gregor_request_memory_waiting_connections')).toBe(0);
    // prom-client's Node.js defaults ride along.
    expect(series.has('nodejs_eventloop_lag_seconds')).toBe(true);
    expect(series.has('nodejs_heap_size_used_bytes')).toBe(true);

    const sessionId = cluster.context.fetchSessions.createSession(
      [0, 1, 2].map((partition) => ({
        request: {
          topic: 'orders',
          topicId: zeroUuid,
          partition,
          fetchOffset: 0,
          currentLeaderEpoch: -1,
          partitionMaxBytes: 1024,
        },
        result: { errorCode: 0, highWatermark: 0, lastStableOffset: 0, logStartOffset: 0, recordsBytes: 0 },
      })),
      false,
      0,
    );
    expect(sessionId).not.toBe(0);
    harness.recorder.metadataCommitted(4, 10);
    harness.recorder.metadataCommitted(8, 20);
    const { memory } = harness.sources;
    expect(memory.tryReserve(3000)).toBe(true);
    expect(memory.tryReserve(2000)).toBe(false);
    memory.waitFor(2000, () => undefined);
    memory.release(1000);
    harness.sources.active = false;
    harness.sources.raft = { ...harness.sources.raft, role: 'follower', leaderId: undefined, epoch: 4 };
    series = await harness.render();
    expect(series.get('kafka_server_raftmetrics_commit_latency_avg')).toBe(6);
    expect(series.get('kafka_server_raftmetrics_commit_latency_max')).toBe(8);
    expect(series.get('kafka_server_fetchsessioncache_numincrementalfetchsessions')).toBe(1);
    expect(series.get('kafka_server_fetchsessioncache_numincrementalfetchpartitionscached')).toBe(3);
    // 3000 reserved, 1000 of them released; the 2000-byte frame's waiter woke (it fits now).
    expect(series.get('kafka_network_socketserver_memorypoolused')).toBe(2000);
    expect(series.get('kafka_network_socketserver_memorypoolavailable')).toBe(2096);
    expect(series.get('gregor_request_memory_used_max_bytes')).toBe(3000);
    expect(series.get('gregor_request_memory_waiting_connections')).toBe(0);
    // Only the active controller reports cluster-wide counts, so sums over nodes count each once.
    expect(series.get('kafka_controller_kafkacontroller_activecontrollercount')).toBe(0);
    expect(series.get('kafka_controller_kafkacontroller_globalpartitioncount')).toBe(0);
    expect(series.get('kafka_server_raftmetrics_current_leader')).toBe(-1);
    expect(series.get('kafka_server_raftmetrics_current_state{current_state="voted"}')).toBe(1);
    expect(series.has('kafka_server_raftmetrics_current_state{current_state="leader"}')).toBe(false);
  });

  it('reports the bytes/s of throttled replication on each side as the quotas measure them (KIP-73)', async () => {
    const harness = await start();
    const { leader, follower, alterLogDirs } = cluster.replicaManager.replicationThrottles;
    let series = await harness.render();
    expect(series.get('kafka_server_leaderreplication_byte_rate')).toBe(0);
    expect(series.get('kafka_server_followerreplication_byte_rate')).toBe(0);
    expect(series.get('kafka_server_alterlogdirsreplication_byte_rate')).toBe(0);
    // What serving a throttled follower and fetching a throttled partition record: 11 kB on the
    // leader side, 22 kB on the follower side, now. Kafka's Rate counts at least 10 windows of 1 s.
    leader.record(11_000, cluster.clock.nowMs());
    follower.record(22_000, cluster.clock.nowMs());
    // And what a copy between log dirs records (storage's copy calls logDirCopyThrottle): 33 kB.
    alterLogDirs.record(33_000, cluster.clock.nowMs());
    series = await harness.render();
    expect(series.get('kafka_server_alterlogdirsreplication_byte_rate')).toBe(3_300);
    expect(series.get('kafka_server_leaderreplication_byte_rate')).toBe(1_100);
    expect(series.get('kafka_server_followerreplication_byte_rate')).toBe(2_200);
    // Past the 11 windows the bytes no longer count.
    cluster.clock.advanceMs(11_000);
    series = await harness.render();
    expect(series.get('kafka_server_leaderreplication_byte_rate')).toBe(0);
  });

  it('reports consumer-group lag against the leader’s high watermark, none for a partition without a leader', async () => {
    const harness = await start();
    await createTopic('orders', 1);
    await produce('orders', [{ index: 0, records: batchOf(['a', 'b', 'c', 'd', 'e']) }]);
    harness.sources.groups = [
      { groupId: 'billing', topic: 'orders', partition: 0, offset: 2 },
      { groupId: 'billing', topic: 'elsewhere', partition: 0, offset: 9 },
    ];
    const series = await harness.render();
    expect(
      series.get('kafka_consumergroup_current_offset{consumergroup="billing",partition="0",topic="orders"}'),
    ).toBe(2);
    expect(series.get('kafka_consumergroup_lag{consumergroup="billing",partition="0",topic="orders"}')).toBe(
      3,
    );
    // No such partition, so no leader: the committed offset is known, the lag is not.
    expect(
      series.get(
        'kafka_consumergroup_current_offset{consumergroup="billing",partition="0",topic="elsewhere"}',
      ),
    ).toBe(9);
    expect(
      series.has('kafka_consumergroup_lag{consumergroup="billing",partition="0",topic="elsewhere"}'),
    ).toBe(false);
  });

  it('exports socket-server connections and authentications per listener, with network processor 0', async () => {
    const { recorder, render } = await start();
    const labels = (listener: string) => `{listener="${listener}",networkProcessor="0"}`;
    const series = (name: string, listener: string) =>
      `kafka_server_socket_server_metrics_${name}${labels(listener)}`;
    recorder.listenerStarted('SSL');
    recorder.connectionOpened('SASL_PLAINTEXT');
    recorder.connectionOpened('SASL_PLAINTEXT');
    recorder.connectionOpened('PLAINTEXT');
    recorder.authenticationCompleted('PLAINTEXT', 'succeeded', false);
    recorder.authenticationCompleted('SASL_PLAINTEXT', 'succeeded', false);
    recorder.authenticationCompleted('SASL_PLAINTEXT', 'failed', false);
    recorder.authenticationCompleted('SASL_PLAINTEXT', 'succeeded', true, 4);
    recorder.authenticationCompleted('SASL_PLAINTEXT', 'succeeded', true, 10);
    recorder.authenticationCompleted('SASL_PLAINTEXT', 'failed', true);
    recorder.connectionClosed('SASL_PLAINTEXT');
    const metrics = await render();
    expect(metrics.get(series('connection_count', 'SASL_PLAINTEXT'))).toBe(1);
    expect(metrics.get(series('connection_creation_total', 'SASL_PLAINTEXT'))).toBe(2);
    expect(metrics.get(series('connection_close_total', 'SASL_PLAINTEXT'))).toBe(1);
    expect(metrics.get(series('connection_count', 'PLAINTEXT'))).toBe(1);
    expect(metrics.get(series('successful_authentication_total', 'PLAINTEXT'))).toBe(1);
    expect(metrics.get(series('failed_authentication_total', 'PLAINTEXT'))).toBe(0);
    expect(metrics.get(series('successful_authentication_total', 'SASL_PLAINTEXT'))).toBe(1);
    expect(metrics.get(series('failed_authentication_total', 'SASL_PLAINTEXT'))).toBe(1);
    expect(metrics.get(series('successful_reauthentication_total', 'SASL_PLAINTEXT'))).toBe(2);
    expect(metrics.get(series('failed_reauthentication_total', 'SASL_PLAINTEXT'))).toBe(1);
    expect(metrics.get(series('reauthentication_latency_avg', 'SASL_PLAINTEXT'))).toBe(7);
    expect(metrics.get(series('reauthentication_latency_max', 'SASL_PLAINTEXT'))).toBe(10);
    // Two connections within the first of two 30 s windows: Kafka's Rate counts at least one
    // full window less than its samples, so 2 per 30 s.
    expect(metrics.get(series('connection_creation_rate', 'SASL_PLAINTEXT'))).toBeCloseTo(2 / 30, 3);
    expect(metrics.get(series('reauthentication_latency_avg', 'PLAINTEXT'))).toBeNaN();
    // A listener without any connection yet shows zeros, as Kafka's sensors do.
    expect(metrics.get(series('connection_count', 'SSL'))).toBe(0);
    expect(metrics.get(series('failed_authentication_total', 'SSL'))).toBe(0);
  });

  it('drops the series of a deleted topic and keeps the all-topics totals', async () => {
    const { render } = await start();
    await createTopic('doomed', 1);
    await produce('doomed', [{ index: 0, records: batchOf(['x', 'y']) }]);
    expect((await render()).get('kafka_server_brokertopicmetrics_messagesin_total{topic="doomed"}')).toBe(2);
    const response = await cluster.request(ApiKey.DeleteTopics, 4, {
      topicNames: ['doomed'],
      timeoutMs: 1000,
    });
    expect(response.responses[0]!.errorCode).toBe(ErrorCode.NONE);
    const series = await render();
    expect(series.has('kafka_server_brokertopicmetrics_messagesin_total{topic="doomed"}')).toBe(false);
    expect(series.get('kafka_server_brokertopicmetrics_messagesin_total')).toBe(2);
  });
});
