#!/usr/bin/env node
// Captures the request frames real Kafka clients send, as test fixtures for the message codecs.
//
//   npx tsc -b packages/protocol && node scripts/capture-client-frames.mjs [kcat] [kafkajs] [kafka-python]
//        [librdkafka-2.15]
//
// librdkafka-2.15 is Debian's kcat and python3-confluent-kafka run on the librdkafka 2.15 that
// scripts/build-librdkafka.sh builds (LD_LIBRARY_PATH); the run stops if either reports another
// version.
//
// For each client it starts a tiny single-broker "Kafka" on 127.0.0.1 (an ephemeral port) that
// answers with Gregor's own codecs: ApiVersions (our supported ranges), Metadata (one broker =
// itself, every asked-for topic with one partition it leads), Produce (success), Fetch (empty),
// ListOffsets (offset 0), topic admin calls (success), and just enough of the group protocol for a
// consumer to get an assignment. Then it runs the client's usual calls against it and writes the
// first frame of every (client, api, version) to packages/protocol/test-fixtures/
// <client>-<apiName>-v<version>[-<variant>].hex: the frame after the 4-byte size prefix, as hex
// text (variants: see variantOf).
// The tests in packages/protocol/src/messages/captured.test.ts decode and re-encode every file.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixturesDir = join(repoRoot, 'packages/protocol/test-fixtures');
const codecs = await import(join(repoRoot, 'packages/protocol/dist/messages/index.js'));
const { ApiKey, apiDefinition, decodeRequest, encodeApiVersionsUnsupportedResponse, encodeResponse } = codecs;

const nodeId = 1;
const frameBytesMax = 64 * 1024 * 1024;
const fetchWaitMsMax = 100;
const clientRunMsMax = 30_000;
const groupGenerationId = 1;

/**
 * Metadata requests come in three shapes that clients encode differently (librdkafka 2.15 leaves
 * 3 bytes after an all-topics v9 request): each is kept, as `-all-topics` / `-no-topics` / plain.
 */
function variantOf(request) {
  if (request.apiKey !== ApiKey.Metadata) return '';
  const { topics } = request.body;
  if (topics === null || (request.apiVersion === 0 && topics.length === 0)) return '-all-topics';
  return topics.length === 0 ? '-no-topics' : '';
}

/**
 * The capture broker's id for a topic: the name's bytes as hex, padded with zeros to 16 bytes, so
 * that captured.test.ts knows it (clients fetch by topic id from Fetch v13 on).
 */
function captureTopicId(name) {
  return Buffer.from(name).toString('hex').padEnd(32, '0').slice(0, 32);
}

/** Starts a capture broker for one client; resolves to { port, close, captured }. */
function startCaptureBroker(clientName) {
  const captured = new Map();
  const topicsSeen = new Set(['t']);
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    // Requests are answered strictly in order, even when one of them (Fetch) waits a little.
    let queue = Promise.resolve();
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (size < 0 || size > frameBytesMax) {
          socket.destroy();
          return;
        }
        if (pending.length < 4 + size) break;
        const frame = Buffer.from(pending.subarray(4, 4 + size));
        pending = pending.subarray(4 + size);
        queue = queue.then(() => answer(frame, socket));
      }
    });
    socket.on('error', () => {});
  });

  function record(request, frame) {
    const apiName = apiDefinition(request.apiKey).name;
    const key = `${clientName}-${apiName}-v${request.apiVersion}${variantOf(request)}`;
    if (!captured.has(key)) captured.set(key, frame.toString('hex'));
  }

  async function answer(frame, socket) {
    const request = decodeRequest(frame);
    if (!request.ok) {
      if (request.reason === 'unsupported-version' && request.apiKey === ApiKey.ApiVersions) {
        socket.write(encodeApiVersionsUnsupportedResponse(request.correlationId, { sizePrefix: true }));
        return;
      }
      console.error(`[${clientName}] ${request.reason}: ${request.message}; closing`);
      socket.destroy();
      return;
    }
    record(request, frame);
    const body = await responseBody(request, socket.localPort);
    if (body === null) return;
    if (!socket.destroyed) {
      socket.write(
        encodeResponse(request.apiKey, request.apiVersion, request.header.correlationId, body, {
          sizePrefix: true,
        }),
      );
    }
  }

  async function responseBody(request, port) {
    const { body, apiVersion } = request;
    switch (request.apiKey) {
      case ApiKey.ApiVersions:
        return { errorCode: 0, apiKeys: codecs.supportedApiVersions(), throttleTimeMs: 0 };
      case ApiKey.Metadata: {
        const nameOfId = new Map([...topicsSeen].map((name) => [captureTopicId(name), name]));
        const names =
          body.topics === null || body.topics.length === 0
            ? [...topicsSeen]
            : body.topics.map((t) => t.name ?? nameOfId.get(t.topicId) ?? 't');
        for (const name of names) topicsSeen.add(name);
        return {
          throttleTimeMs: 0,
          brokers: [{ nodeId, host: '127.0.0.1', port, rack: null }],
          clusterId: 'gregor-capture',
          controllerId: nodeId,
          topics: names.map((name) => ({
            errorCode: 0,
            name,
            topicId: captureTopicId(name),
            isInternal: false,
            partitions: [
              {
                errorCode: 0,
                partitionIndex: 0,
                leaderId: nodeId,
                leaderEpoch: 0,
                replicaNodes: [nodeId],
                isrNodes: [nodeId],
                offlineReplicas: [],
              },
            ],
          })),
        };
      }
      case ApiKey.Produce:
        if (body.acks === 0) return null;
        return {
          responses: body.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((p) => ({
              partitionIndex: p.partitionIndex,
              errorCode: 0,
              baseOffset: 0n,
            })),
          })),
          throttleTimeMs: 0,
        };
      case ApiKey.Fetch:
        await new Promise((resolve) => setTimeout(resolve, Math.min(body.maxWaitMs, fetchWaitMsMax)));
        return {
          throttleTimeMs: 0,
          errorCode: 0,
          sessionId: 0,
          responses: body.topics.map((topic) => ({
            topic: topic.topic,
            topicId: topic.topicId,
            partitions: topic.partitions.map((p) => ({
              partitionIndex: p.partition,
              errorCode: 0,
              highWatermark: 0n,
              lastStableOffset: 0n,
              logStartOffset: 0n,
              abortedTransactions: apiVersion >= 4 ? [] : null,
              // Never null: librdkafka rejects a -1 record set size as a parse failure.
              records: Buffer.alloc(0),
            })),
          })),
        };
      case ApiKey.ListOffsets:
        return {
          throttleTimeMs: 0,
          topics: body.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((p) => ({
              partitionIndex: p.partitionIndex,
              errorCode: 0,
              oldStyleOffsets: apiVersion === 0 ? [0n] : [],
              // Kafka refuses non-default values in versions without the field; so do our codecs.
              timestamp: -1n,
              offset: apiVersion >= 1 ? 0n : -1n,
              leaderEpoch: apiVersion >= 4 ? 0 : -1,
            })),
          })),
        };
      case ApiKey.CreateTopics:
        for (const topic of body.topics) topicsSeen.add(topic.name);
        return {
          throttleTimeMs: 0,
          topics: body.topics.map((topic) => ({
            name: topic.name,
            errorCode: 0,
            errorMessage: null,
            numPartitions: 1,
            replicationFactor: 1,
            configs: apiVersion >= 5 ? [] : undefined,
          })),
        };
      case ApiKey.DeleteTopics: {
        const names = apiVersion >= 6 ? body.topics.map((t) => t.name) : body.topicNames;
        for (const name of names) topicsSeen.delete(name);
        return {
          throttleTimeMs: 0,
          responses: names.map((name) => ({ name, errorCode: 0, errorMessage: null })),
        };
      }
      case ApiKey.CreatePartitions:
        return {
          throttleTimeMs: 0,
          results: body.topics.map((topic) => ({ name: topic.name, errorCode: 0, errorMessage: null })),
        };
      case ApiKey.DescribeConfigs:
        return {
          throttleTimeMs: 0,
          results: body.resources.map((resource) => ({
            errorCode: 0,
            errorMessage: null,
            resourceType: resource.resourceType,
            resourceName: resource.resourceName,
            configs: [
              {
                name: 'retention.ms',
                value: '604800000',
                readOnly: false,
                isDefault: apiVersion === 0,
                configSource: 5,
                isSensitive: false,
                synonyms: [],
              },
            ],
          })),
        };
      default:
        return groupResponseBody(request, port);
    }
  }

  /** Just enough of the group protocol for one consumer to be its group's leader and only member. */
  function groupResponseBody(request, port) {
    const { body } = request;
    switch (request.apiKey) {
      case ApiKey.FindCoordinator:
        // v4 batches coordinator keys; v0-3 name one coordinator at the top level.
        if (request.apiVersion >= 4) {
          return {
            throttleTimeMs: 0,
            coordinators: body.coordinatorKeys.map((key) => ({
              key,
              nodeId,
              host: '127.0.0.1',
              port,
              errorCode: 0,
            })),
          };
        }
        return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId, host: '127.0.0.1', port };
      case ApiKey.JoinGroup: {
        const memberId = body.memberId === '' ? `${request.header.clientId ?? 'member'}-1` : body.memberId;
        const protocol = body.protocols[0];
        return {
          throttleTimeMs: 0,
          errorCode: 0,
          generationId: groupGenerationId,
          protocolName: protocol?.name ?? '',
          leader: memberId,
          memberId,
          members: [{ memberId, groupInstanceId: null, metadata: protocol?.metadata ?? Buffer.alloc(0) }],
        };
      }
      case ApiKey.SyncGroup: {
        const own = body.assignments.find((a) => a.memberId === body.memberId);
        return {
          throttleTimeMs: 0,
          errorCode: 0,
          assignment: own?.assignment ?? Buffer.alloc(0),
        };
      }
      case ApiKey.Heartbeat:
        return { throttleTimeMs: 0, errorCode: 0 };
      case ApiKey.LeaveGroup:
        return {
          throttleTimeMs: 0,
          errorCode: 0,
          members: (body.members ?? []).map((m) => ({
            memberId: m.memberId,
            groupInstanceId: null,
            errorCode: 0,
          })),
        };
      case ApiKey.OffsetFetch: {
        const nothingCommitted = (topics) =>
          (topics ?? []).map((topic) => ({
            name: topic.name,
            partitions: topic.partitionIndexes.map((partitionIndex) => ({
              partitionIndex,
              committedOffset: -1n,
              committedLeaderEpoch: -1,
              metadata: '',
              errorCode: 0,
            })),
          }));
        // v8 batches groups; v0-7 answer for the one group at the top level.
        if (request.apiVersion >= 8) {
          return {
            throttleTimeMs: 0,
            groups: body.groups.map((group) => ({
              groupId: group.groupId,
              topics: nothingCommitted(group.topics),
              errorCode: 0,
            })),
          };
        }
        return { throttleTimeMs: 0, topics: nothingCommitted(body.topics), errorCode: 0 };
      }
      case ApiKey.OffsetCommit:
        return {
          throttleTimeMs: 0,
          topics: body.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: 0 })),
          })),
        };
      case ApiKey.InitProducerId:
        return { throttleTimeMs: 0, errorCode: 0, producerId: 1000n, producerEpoch: 0 };
      case ApiKey.ListGroups:
        return { throttleTimeMs: 0, errorCode: 0, groups: [] };
      case ApiKey.DescribeGroups:
        return {
          throttleTimeMs: 0,
          groups: body.groups.map((groupId) => ({
            errorCode: 0,
            groupId,
            groupState: 'Empty',
            protocolType: 'consumer',
            protocolData: '',
            members: [],
          })),
        };
      case ApiKey.DeleteGroups:
        return { throttleTimeMs: 0, results: body.groupsNames.map((groupId) => ({ groupId, errorCode: 0 })) };
      default:
        throw new Error(`capture broker has no answer for api key ${request.apiKey}`);
    }
  }

  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        captured,
        close: () =>
          new Promise((done) => {
            // Clients keep connections open; closing the server must not wait for them.
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

function run(command, args, { input, timeoutMs = clientRunMsMax, env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    // A child that exits without reading its input (build-librdkafka.sh, kcat -V) must not crash the run.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

const currentLibrdkafkaVersion = '2.15.1';

/** The directory with the librdkafka.so.1 that scripts/build-librdkafka.sh built (or builds now). */
async function currentLibrdkafkaDir() {
  const result = await run('bash', [join(repoRoot, 'scripts/build-librdkafka.sh')], {
    timeoutMs: 20 * 60_000,
  });
  if (result.code !== 0) throw new Error(`build-librdkafka.sh failed:\n${result.output}`);
  return result.output.trim().split('\n').at(-1);
}

async function runKcat(label, port, env) {
  const broker = `127.0.0.1:${port}`;
  const common = ['-b', broker, '-X', 'client.id=gregor-capture', '-m', '5'];
  for (const args of [
    ['-L'],
    ['-P', '-t', 't'],
    ['-C', '-t', 't', '-o', 'beginning', '-e'],
    // A balanced consumer: FindCoordinator, JoinGroup, SyncGroup, OffsetFetch, Heartbeat, LeaveGroup.
    ['-G', 'g', '-e', 't'],
  ]) {
    const result = await run('kcat', [...common, ...args], { input: 'hello\nworld\n', env });
    console.log(`${label} ${args.join(' ')} -> exit ${result.code}`);
    if (result.code !== 0) console.log(result.output.slice(0, 2000));
  }
}

const drivers = {
  async kcat(port) {
    await runKcat('kcat', port);
  },

  async 'librdkafka-2.15'(port) {
    const env = { LD_LIBRARY_PATH: await currentLibrdkafkaDir() };
    const kcatVersion = await run('kcat', ['-V'], { env });
    if (!kcatVersion.output.includes(`librdkafka ${currentLibrdkafkaVersion} `))
      throw new Error(`kcat does not run on librdkafka ${currentLibrdkafkaVersion}:\n${kcatVersion.output}`);
    await runKcat('kcat (librdkafka 2.15)', port, env);
    // confluent-kafka-python: the admin calls, an idempotent producer, and a group consumer that
    // commits and reads its committed offset and the watermarks.
    const script = `
import sys
import confluent_kafka
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic
assert confluent_kafka.libversion()[0] == '${currentLibrdkafkaVersion}', confluent_kafka.libversion()
broker = '127.0.0.1:${port}'
common = {'bootstrap.servers': broker, 'client.id': 'gregor-capture'}
def step(name, fn):
    try:
        fn(); print('confluent-kafka', name, '-> ok')
    except Exception as e:
        print('confluent-kafka', name, '->', repr(e))
def admin():
    a = AdminClient(common)
    for f in a.create_topics([NewTopic('t', 1, 1)], request_timeout=5).values(): f.result()
    for f in a.describe_configs([ConfigResource('topic', 't')], request_timeout=5).values(): f.result()
    for f in a.create_partitions([NewPartitions('t', 2)], request_timeout=5).values(): f.result()
    for f in a.delete_topics(['t'], request_timeout=5).values(): f.result()
    a.list_groups(timeout=5)
    a.list_topics(timeout=5)
def produce():
    p = Producer({**common, 'enable.idempotence': True, 'acks': 'all'})
    p.produce('t', key=b'k', value=b'v')
    assert p.flush(10) == 0
def group():
    c = Consumer({**common, 'group.id': 'g', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
    c.subscribe(['t'])
    for _ in range(20):
        if c.assignment(): break
        c.poll(0.2)
    tp = TopicPartition('t', 0, 0)
    c.commit(offsets=[tp], asynchronous=False)
    c.committed([TopicPartition('t', 0)], timeout=5)
    c.get_watermark_offsets(TopicPartition('t', 0), timeout=5)
    c.close()
step('admin', admin); step('producer', produce); step('group consumer', group)
`;
    const result = await run('/usr/bin/python3', ['-c', script], { timeoutMs: 60_000, env });
    console.log(result.output.slice(-4000));
  },

  async kafkajs(port) {
    const { Kafka, logLevel } = await import('kafkajs');
    const kafka = new Kafka({
      clientId: 'gregor-capture',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 1 },
    });
    const steps = [
      [
        'admin',
        async () => {
          const admin = kafka.admin();
          await admin.connect();
          await admin.createTopics({ topics: [{ topic: 't', numPartitions: 1, replicationFactor: 1 }] });
          await admin.fetchTopicMetadata({ topics: ['t'] });
          await admin.fetchTopicOffsets('t');
          await admin.createPartitions({ topicPartitions: [{ topic: 't', count: 2 }] });
          await admin.describeConfigs({ resources: [{ type: 2, name: 't' }], includeSynonyms: false });
          await admin.deleteTopics({ topics: ['t'] });
          await admin.listGroups();
          await admin.describeGroups(['g']);
          await admin.fetchOffsets({ groupId: 'g', topics: ['t'] });
          await admin.setOffsets({ groupId: 'g', topic: 't', partitions: [{ partition: 0, offset: '0' }] });
          await admin.deleteGroups(['g']);
          await admin.disconnect();
        },
      ],
      [
        'producer',
        async () => {
          const producer = kafka.producer();
          await producer.connect();
          await producer.send({ topic: 't', acks: -1, messages: [{ key: 'k', value: 'v' }] });
          await producer.disconnect();
        },
      ],
      [
        'idempotent producer',
        async () => {
          const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
          await producer.connect();
          await producer.send({ topic: 't', messages: [{ value: 'v' }] });
          await producer.disconnect();
        },
      ],
      [
        'consumer',
        async () => {
          const consumer = kafka.consumer({ groupId: 'g', heartbeatInterval: 100 });
          await consumer.connect();
          await consumer.subscribe({ topics: ['t'], fromBeginning: true });
          await consumer.run({ eachMessage: async () => {} });
          await new Promise((resolve) => setTimeout(resolve, 1500));
          await consumer.disconnect();
        },
      ],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
        console.log(`kafkajs ${name} -> ok`);
      } catch (error) {
        console.log(`kafkajs ${name} -> ${error.message}`);
      }
    }
  },

  async 'kafka-python'(port) {
    const script = `
import sys, logging
from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient, TopicPartition, OffsetAndMetadata
from kafka.admin import NewTopic, NewPartitions, ConfigResource, ConfigResourceType
broker = '127.0.0.1:${port}'
def step(name, fn):
    try:
        fn(); print('kafka-python', name, '-> ok')
    except Exception as e:
        print('kafka-python', name, '->', repr(e))
def admin():
    a = KafkaAdminClient(bootstrap_servers=broker, client_id='gregor-capture', request_timeout_ms=5000)
    a.create_topics([NewTopic('t', 1, 1)])
    a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, 't')])
    a.create_partitions({'t': NewPartitions(2)})
    a.delete_topics(['t'])
    a.list_consumer_groups()
    a.describe_consumer_groups(['g'])
    a.list_consumer_group_offsets('g')
    a.close()
def produce():
    p = KafkaProducer(bootstrap_servers=broker, client_id='gregor-capture', acks='all')
    p.send('t', key=b'k', value=b'v').get(timeout=10)
    p.close()
def consume():
    c = KafkaConsumer(bootstrap_servers=broker, client_id='gregor-capture', group_id=None,
                      consumer_timeout_ms=1000, request_timeout_ms=5000)
    tp = TopicPartition('t', 0)
    c.assign([tp]); c.seek_to_beginning(tp); c.poll(timeout_ms=500); c.close()
def group():
    c = KafkaConsumer('t', bootstrap_servers=broker, client_id='gregor-capture', group_id='g',
                      consumer_timeout_ms=1500, session_timeout_ms=6000, request_timeout_ms=7000,
                      heartbeat_interval_ms=100)
    for _ in c: pass
    c.commit({TopicPartition('t', 0): OffsetAndMetadata(0, '')})
    c.close()
step('admin', admin); step('producer', produce); step('consumer', consume); step('group consumer', group)
`;
    const result = await run('/usr/bin/python3', ['-c', script], { timeoutMs: 60_000 });
    console.log(result.output.slice(-4000));
  },
};

const chosen = process.argv.slice(2);
const clientNames = chosen.length > 0 ? chosen : Object.keys(drivers);
mkdirSync(fixturesDir, { recursive: true });
for (const clientName of clientNames) {
  const driver = drivers[clientName];
  if (!driver) {
    console.error(`unknown client '${clientName}'; choose from ${Object.keys(drivers).join(', ')}`);
    process.exitCode = 2;
    continue;
  }
  const broker = await startCaptureBroker(clientName);
  await driver(broker.port);
  await broker.close();
  for (const [key, frameHex] of [...broker.captured].sort()) {
    writeFileSync(join(fixturesDir, `${key}.hex`), `${frameHex}\n`);
  }
  console.log(
    `${clientName}: ${broker.captured.size} frame(s): ${[...broker.captured.keys()].sort().join(' ')}`,
  );
}
