#!/usr/bin/env node
// Fetch sessions (KIP-227) against one broker process: a consumer of many partitions where one
// partition gets a record between rounds. Each round is one Fetch (Fetch v12 by topic name, or
// BENCH_FETCH_VERSION, e.g. 17 for topics by id as librdkafka 2.15 and Java 4.x fetch; read_uncommitted,
// max_wait 0) from the offsets the consumer holds, sessionless (epoch -1, every partition named
// and answered, as librdkafka and kafkajs fetch) or in a session (a full fetch once, then only
// the partition that moved is named and answered). Figures, not a test: it prints request and
// response bytes and the round time, and checks that both modes read every record.
//
// Usage: npm run bench:fetch-sessions
//        BENCH_PARTITIONS=2000 BENCH_ROUNDS=300 BENCH_FETCH_VERSION=17 node scripts/bench-fetch-sessions.mjs

import { performance } from 'node:perf_hooks';
import { ApiKey, encodeRequest, encodeResponse } from '../packages/protocol/dist/index.js';
import { BenchCluster } from './lib/bench-cluster.mjs';
import { createTopic, encodeValueBatch, openConnection, produceBody } from './lib/bench-producer.mjs';

const partitionCount = Number(process.env.BENCH_PARTITIONS ?? 2_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 300);
const fetchVersion = Number(process.env.BENCH_FETCH_VERSION ?? 12);
/** From this version Fetch names topics by id. */
const topicIdVersionMin = 13;
const requestTimeoutMs = 30_000;

/** The topic's id (32 hex digits), from Metadata v12. */
async function topicIdOf(connection, topic) {
  const metadata = await connection.call(
    ApiKey.Metadata,
    12,
    { topics: [{ name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false },
    requestTimeoutMs,
  );
  return metadata.topics[0].topicId;
}

function fetchBody({ topic, topicId }, sessionId, sessionEpoch, partitions) {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId,
    sessionEpoch,
    topics:
      partitions.length === 0
        ? []
        : [
            {
              topic,
              topicId,
              partitions: partitions.map(({ partition, offset }) => ({
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(offset),
                lastFetchedEpoch: -1,
                logStartOffset: -1n,
                partitionMaxBytes: 1024 * 1024,
              })),
            },
          ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

/** One consumer's rounds over `topic`; returns the figures and how many records it read. */
async function run(connection, producer, topic, useSession) {
  const offsets = new Array(partitionCount).fill(0);
  const batch = encodeValueBatch(100, 1);
  let sessionId = 0;
  let epoch = useSession ? 0 : -1;
  let changed = offsets.map((offset, partition) => ({ partition, offset }));
  let requestBytes = 0;
  let responseBytes = 0;
  let recordsRead = 0;
  let fetchMs = 0;
  for (let round = 0; round < rounds; round++) {
    const target = round % partitionCount;
    await producer.call(
      ApiKey.Produce,
      7,
      produceBody(topic.topic, 1, [{ partitionIndex: target, records: batch }]),
      requestTimeoutMs,
    );
    const named =
      useSession && epoch > 0 ? changed : offsets.map((offset, partition) => ({ partition, offset }));
    const body = fetchBody(topic, sessionId, epoch, named);
    requestBytes += encodeRequest(ApiKey.Fetch, fetchVersion, 1, 'gregor-bench', body).length;
    const started = performance.now();
    const response = await connection.call(ApiKey.Fetch, fetchVersion, body, requestTimeoutMs);
    fetchMs += performance.now() - started;
    responseBytes += encodeResponse(ApiKey.Fetch, fetchVersion, 1, response).length;
    if (response.errorCode !== 0) throw new Error(`Fetch error ${response.errorCode}`);
    changed = [];
    for (const entry of response.responses) {
      for (const partition of entry.partitions) {
        if (partition.errorCode !== 0) throw new Error(`partition error ${partition.errorCode}`);
        const next = Number(partition.highWatermark);
        if (next > offsets[partition.partitionIndex]) {
          recordsRead += next - offsets[partition.partitionIndex];
          offsets[partition.partitionIndex] = next;
          changed.push({ partition: partition.partitionIndex, offset: next });
        }
      }
    }
    if (useSession) {
      if (response.sessionId === 0) throw new Error('the broker gave no session');
      sessionId = response.sessionId;
      epoch = epoch === 0 ? 1 : epoch + 1;
    }
  }
  return { requestBytes, responseBytes, fetchMs, recordsRead };
}

const cluster = await BenchCluster.start({
  nodeCount: 1,
  properties: { 'auto.create.topics.enable': 'false' },
});
try {
  const address = cluster.node(1).address;
  const admin = await openConnection(address);
  const connection = await openConnection(address);
  const rows = [];
  for (const useSession of [false, true]) {
    const topic = useSession ? 'with-session' : 'sessionless';
    await createTopic(admin, topic, partitionCount, 1);
    const topicId = fetchVersion >= topicIdVersionMin ? await topicIdOf(admin, topic) : undefined;
    const figures = await run(connection, admin, { topic, topicId }, useSession);
    if (figures.recordsRead !== rounds) throw new Error(`${topic}: read ${figures.recordsRead} of ${rounds}`);
    rows.push({ mode: useSession ? 'session (KIP-227)' : 'sessionless', ...figures });
  }
  admin.close();
  connection.close();
  console.log(
    `Fetch v${fetchVersion} of ${partitionCount} partitions, one of them with a new record, ${rounds} rounds`,
  );
  console.log('mode                 request B/round  response B/round  fetch ms/round');
  for (const row of rows) {
    console.log(
      `${row.mode.padEnd(20)} ${String(Math.round(row.requestBytes / rounds)).padStart(15)}  ${String(
        Math.round(row.responseBytes / rounds),
      ).padStart(16)}  ${(row.fetchMs / rounds).toFixed(2).padStart(14)}`,
    );
  }
} finally {
  await cluster.close();
}
