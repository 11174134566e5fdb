// A real Prometheus server (Debian's `prometheus`, started here with a generated config on
// 127.0.0.1 and a port it chooses, its TSDB in a temporary dir) scrapes a three-node process cluster
// started with gregor.metrics.port=0, every second. Queries through its HTTP API (/api/v1/query)
// show what dashboards built on Kafka's JMX-exporter names would: records in rising under load,
// requests counted and timed per Kafka request name, consumer-group lag of a group that committed
// less than was produced, one active controller, and, after kill -9 of a broker holding follower
// replicas, under-replicated partitions (summed over the live brokers) above zero and ISR shrinks
// counted. Every wait is on a query result, bounded. `promtool` checks the example scrape config in
// deploy/prometheus.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@gregor/ground/testing';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const prometheusBinary = process.env.PROMETHEUS_BIN ?? 'prometheus';
const promtoolBinary = process.env.PROMTOOL_BIN ?? 'promtool';
const topic = 'metered';
const partitionCount = 3;
const groupId = 'lagging-readers';
/** Bounded waits for what a 1 s scrape interval makes visible (normally a few seconds). */
const queryWaitMs = 60_000;
const queryPollMs = 250;

let cluster: ProcessCluster;
let kafka: Kafka;
let producer: Producer;
let prometheus: ChildProcess | undefined;
let prometheusOutput = '';
let prometheusUrl = '';
let workDir = '';

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: { 'gregor.metrics.port': '0', 'offsets.topic.num.partitions': '3' },
  });
  for (const node of cluster.nodes) expect(node.metricsPort).toBeGreaterThan(0);

  workDir = mkdtempSync(join(tmpdir(), 'gregor-prometheus-'));
  const configPath = join(workDir, 'prometheus.yml');
  writeFileSync(configPath, prometheusConfig(cluster));
  prometheus = spawn(
    prometheusBinary,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(workDir, 'tsdb')}`,
      '--web.listen-address=127.0.0.1:0',
      '--log.format=logfmt',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout?.on('data', (chunk: Buffer) => (prometheusOutput += chunk.toString('utf8')));
  prometheus.stderr?.on('data', (chunk: Buffer) => (prometheusOutput += chunk.toString('utf8')));
  prometheusUrl = `http://${await prometheusAddress()}`;

  kafka = new Kafka({
    clientId: 'metrics-it',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount, replicationFactor: 3 }] });
  await admin.disconnect();
  producer = kafka.producer();
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect().catch(() => undefined);
  const child = prometheus;
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  await cluster?.close();
});

/** One scrape job over every node's metrics port; each target labelled with its node id. */
function prometheusConfig(processes: ProcessCluster): string {
  const targets = processes.nodes
    .map(
      (node) =>
        `      - targets: ['127.0.0.1:${node.metricsPort}']\n        labels:\n          node: '${node.id}'`,
    )
    .join('\n');
  return [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: gregor',
    '    static_configs:',
    targets,
    '',
  ].join('\n');
}

/** Where Prometheus listens: it binds port 0 and logs the address it got. */
async function prometheusAddress(): Promise<string> {
  return waitFor(
    'prometheus to listen',
    () => {
      const match = /msg="Listening on" address=(127\.0\.0\.1:\d+)/.exec(prometheusOutput);
      if (match !== null) return match[1]!;
      if (prometheus?.exitCode !== null) throw new Error(`prometheus exited:\n${prometheusOutput}`);
      return undefined;
    },
    { timeoutMs: queryWaitMs, intervalMs: queryPollMs, detail: () => prometheusOutput },
  );
}

interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** An instant query through Prometheus's HTTP API. */
async function query(expression: string): Promise<Sample[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expression)}`);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${expression} failed: ${body.error}`);
  return body.data.result.map((sample) => ({ labels: sample.metric, value: Number(sample.value[1]) }));
}

/** Waits until the query's result satisfies `accept`; returns that result. */
async function waitForQuery(
  expression: string,
  accept: (samples: Sample[]) => boolean,
  what: string,
): Promise<Sample[]> {
  let last: Sample[] = [];
  return waitFor(
    what,
    async () => {
      last = await query(expression);
      return accept(last) ? last : undefined;
    },
    {
      timeoutMs: queryWaitMs,
      intervalMs: queryPollMs,
      detail: () => `${expression} = ${JSON.stringify(last)}\n${cluster.tail(10)}`,
    },
  );
}

/** A scalar-valued query (a sum): its value, or undefined while it has no series. */
function scalar(samples: Sample[]): number | undefined {
  return samples[0]?.value;
}

async function produce(count: number, from: number): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: count }, (_, index) => ({
      value: `record-${from + index}`,
      partition: (from + index) % partitionCount,
    })),
  });
}

describe('the example scrape config', () => {
  it('is a config Prometheus accepts', async () => {
    const path = fileURLToPath(new URL('../../../../deploy/prometheus/prometheus.yml', import.meta.url));
    const check = spawn(promtoolBinary, ['check', 'config', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    check.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    check.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const [code] = (await once(check, 'close')) as [number | null];
    expect(code, output).toBe(0);
    expect(output).toMatch(/SUCCESS/);
  });
});

describe('Prometheus scraping a three-node cluster', () => {
  it('scrapes every node', async () => {
    await waitForQuery('sum(up{job="gregor"})', (samples) => scalar(samples) === 3, 'three targets up');
  });

  it('shows records in rising under load, counted once, with requests counted and timed', async () => {
    const messagesIn = `sum(kafka_server_brokertopicmetrics_messagesin_total{topic="${topic}"})`;
    await produce(300, 0);
    await waitForQuery(messagesIn, (samples) => scalar(samples) === 300, 'the first 300 records');
    for (let round = 1; round <= 3; round++) await produce(200, 100 + 200 * round);
    const [rising] = await waitForQuery(messagesIn, (samples) => scalar(samples) === 900, 'all 900 records');
    expect(rising!.value).toBe(900);
    // The all-topics series (no topic label) is the sum over topics, as Kafka's all-topics MBean.
    await waitForQuery(
      'sum(kafka_server_brokertopicmetrics_messagesin_total{topic=""})',
      (samples) => (scalar(samples) ?? 0) >= 900,
      'the all-topics series',
    );
    await waitForQuery(
      `sum(kafka_server_brokertopicmetrics_bytesin_total{topic="${topic}"})`,
      (samples) => (scalar(samples) ?? 0) > 900 * 'record-0'.length,
      'bytes in',
    );
    await waitForQuery(
      `sum(rate(kafka_server_brokertopicmetrics_messagesin_total{topic="${topic}"}[30s]))`,
      (samples) => (scalar(samples) ?? 0) > 0,
      'a positive messages-in rate',
    );

    const produces = await waitForQuery(
      'sum(kafka_network_requestmetrics_requests_total{request="Produce"})',
      (samples) => (scalar(samples) ?? 0) >= 4,
      'Produce requests counted',
    );
    expect(produces[0]!.value).toBeGreaterThanOrEqual(4);
    const p99 = await waitForQuery(
      'max(kafka_network_requestmetrics_totaltimems{request="Produce",quantile="0.99"})',
      (samples) => Number.isFinite(scalar(samples)),
      'a Produce p99',
    );
    expect(p99[0]!.value).toBeGreaterThan(0);
    // Followers fetch over gRPC; the leaders count and time those as FetchFollower.
    await waitForQuery(
      'sum(kafka_network_requestmetrics_requests_total{request="FetchFollower"})',
      (samples) => (scalar(samples) ?? 0) > 0,
      'follower fetches counted',
    );
  });

  it('shows the lag of a group that committed less than was produced', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(topic);
      const highWatermarks = new Map(ends.map((end) => [end.partition, Number(end.high)]));
      // The group read 10 records of each partition and committed that.
      await admin.setOffsets({
        groupId,
        topic,
        partitions: [...highWatermarks.keys()].map((partition) => ({ partition, offset: '10' })),
      });
      const expected = [...highWatermarks.values()].reduce((sum, high) => sum + high - 10, 0);
      expect(expected).toBeGreaterThan(0);
      const lag = await waitForQuery(
        `kafka_consumergroup_lag{consumergroup="${groupId}",topic="${topic}"}`,
        (samples) => samples.length === partitionCount,
        'the lag of every partition',
      );
      for (const sample of lag) {
        expect(sample.value).toBe(highWatermarks.get(Number(sample.labels.partition))! - 10);
      }
      // Exactly one node (the group's coordinator) reports the group.
      expect(new Set(lag.map((sample) => sample.labels.node)).size).toBe(1);
      await waitForQuery(
        `sum(kafka_consumergroup_lag{consumergroup="${groupId}"})`,
        (samples) => scalar(samples) === expected,
        'the total lag',
      );
      // More records: the lag grows with them.
      await produce(30, 10_000);
      await waitForQuery(
        `sum(kafka_consumergroup_lag{consumergroup="${groupId}"})`,
        (samples) => scalar(samples) === expected + 30,
        'the lag to grow by the new records',
      );
    } finally {
      await admin.disconnect();
    }
  });

  it('reports one active controller and the Raft quorum’s state', async () => {
    await waitForQuery(
      'sum(kafka_controller_kafkacontroller_activecontrollercount)',
      (samples) => scalar(samples) === 1,
      'exactly one active controller',
    );
    const leaders = await waitForQuery(
      'kafka_server_raftmetrics_current_leader',
      (samples) => samples.length === 3 && new Set(samples.map((sample) => sample.value)).size === 1,
      'every node to name the same quorum leader',
    );
    const leaderId = leaders[0]!.value;
    const [active] = await query('kafka_controller_kafkacontroller_activecontrollercount == 1');
    expect(Number(active!.labels.node)).toBe(leaderId);
    await waitForQuery(
      `kafka_server_raftmetrics_current_state{current_state="leader",node="${leaderId}"}`,
      (samples) => scalar(samples) === 1,
      'the leader to say it leads',
    );
    // The controller wrote the topic: its commit latency is a number of milliseconds.
    const latency = await waitForQuery(
      `kafka_server_raftmetrics_commit_latency_max{node="${leaderId}"}`,
      (samples) => Number.isFinite(scalar(samples)),
      'a metadata commit latency',
    );
    expect(latency[0]!.value).toBeGreaterThan(0);
    await waitForQuery(
      'sum(kafka_controller_kafkacontroller_globalpartitioncount)',
      (samples) => (scalar(samples) ?? 0) >= partitionCount,
      'the partition count',
    );
    await waitForQuery(
      'count(nodejs_eventloop_lag_seconds)',
      (samples) => scalar(samples) === 3,
      'Node.js defaults',
    );
  });

  it('shows under-replicated partitions and ISR shrinks after kill -9 of a follower', async () => {
    await waitForQuery(
      'sum(kafka_server_replicamanager_underreplicatedpartitions)',
      (samples) => scalar(samples) === 0,
      'every ISR full before the kill',
    );
    // A broker that is not the active controller: every broker holds follower replicas (RF 3).
    const [active] = await waitForQuery(
      'kafka_controller_kafkacontroller_activecontrollercount == 1',
      (samples) => samples.length === 1,
      'the active controller',
    );
    const victim = cluster.nodes.find((node) => String(node.id) !== active!.labels.node)!;
    const followed = await query(`kafka_server_replicamanager_partitioncount{node="${victim.id}"}`);
    const led = await query(`kafka_server_replicamanager_leadercount{node="${victim.id}"}`);
    expect(scalar(followed)! - scalar(led)!).toBeGreaterThan(0);
    const shrinksBefore =
      scalar(await query(`sum(kafka_server_replicamanager_isrshrinks_total{node!="${victim.id}"})`)) ?? 0;

    await cluster.kill(victim.id);
    const live = `node!="${victim.id}"`;
    const underReplicated = await waitForQuery(
      `sum(kafka_server_replicamanager_underreplicatedpartitions{${live}})`,
      (samples) => (scalar(samples) ?? 0) > 0,
      'under-replicated partitions on the live brokers',
    );
    expect(underReplicated[0]!.value).toBeGreaterThan(0);
    await waitForQuery(
      `sum(kafka_server_replicamanager_isrshrinks_total{${live}})`,
      (samples) => (scalar(samples) ?? 0) > shrinksBefore,
      'ISR shrinks counted',
    );
    await waitForQuery(
      `up{node="${victim.id}"}`,
      (samples) => scalar(samples) === 0,
      'the killed target down',
    );
  });
});
