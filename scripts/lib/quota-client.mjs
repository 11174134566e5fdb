#!/usr/bin/env node
// One client of `npm run bench:quotas`, in its own process (so clients running side by side do not
// share an event loop): kafkajs 2.2.4 or Gregor's own client (packages/client), producing or
// consuming as fast as it can for a number of seconds under a client id. Prints one JSON line:
// the value bytes acknowledged (producer) or received (consumer) in each second, and the
// throttle_time_ms the client saw in its responses.
//
// Throttle times: kafkajs reads throttle_time_ms of KIP-219 responses and waits that long before
// its next request on the connection (RequestQueue.maybeThrottle); the wrapper below counts each
// call. Gregor's client does not read the field (the broker mutes the connection, so the client
// waits regardless); the wrapper around KafkaConnection.request reads it from every response.
//
// Usage: node scripts/lib/quota-client.mjs '<json>'
//   {"library": "kafkajs"|"gregor", "role": "produce"|"consume", "bootstrap": "host:port",
//    "topic", "clientId", "seconds", "valueBytes" (produce), "maxBytes" (produce: stop after)}

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Kafka as KafkaJs, logLevel as kafkajsLogLevel } from 'kafkajs';
import {
  ApiKey,
  Kafka as GregorKafka,
  logLevel as gregorLogLevel,
  KafkaConnection,
} from '../../packages/client/dist/index.js';

const command = JSON.parse(process.argv[2]);
const recordsPerSend = command.recordsPerSend ?? 100;
const sendsInFlight = 8;

/** Produce and Fetch requests the client sent during the run. */
let requests = 0;
const countRequest = (apiName) => {
  if (startedMs !== 0 && (apiName === 'Produce' || apiName === 'Fetch')) requests++;
};
/** Responses with a nonzero throttle_time_ms: how many, and the largest. */
const throttle = { count: 0, maxMs: 0 };
const noteThrottle = (ms) => {
  if (!(ms > 0)) return;
  throttle.count++;
  throttle.maxMs = Math.max(throttle.maxMs, ms);
};

if (command.library === 'kafkajs') {
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js');
  const maybeThrottle = RequestQueue.prototype.maybeThrottle;
  RequestQueue.prototype.maybeThrottle = function (clientSideThrottleTime) {
    noteThrottle(clientSideThrottleTime);
    return maybeThrottle.call(this, clientSideThrottleTime);
  };
  const push = RequestQueue.prototype.push;
  RequestQueue.prototype.push = function (pushedRequest) {
    countRequest(pushedRequest.entry.apiName);
    return push.call(this, pushedRequest);
  };
} else {
  const request = KafkaConnection.prototype.request;
  KafkaConnection.prototype.request = async function (...args) {
    countRequest(args[0] === ApiKey.Produce ? 'Produce' : args[0] === ApiKey.Fetch ? 'Fetch' : '');
    const result = await request.apply(this, args);
    if (result.ok) noteThrottle(result.body.throttleTimeMs);
    return result;
  };
}

const kafka =
  command.library === 'kafkajs'
    ? new KafkaJs({
        clientId: command.clientId,
        brokers: [command.bootstrap],
        logLevel: kafkajsLogLevel.NOTHING,
      })
    : new GregorKafka({
        clientId: command.clientId,
        brokers: [command.bootstrap],
        logLevel: gregorLogLevel.NOTHING,
      });

/** Bytes per whole second since `startedMs`; what arrives after `seconds` is not counted. */
const buckets = new Array(command.seconds).fill(0);
let startedMs = 0;
let totalBytes = 0;
/** When the last counted bytes came, ms since `startedMs`. */
let lastMs = 0;
const count = (bytes) => {
  const sinceMs = performance.now() - startedMs;
  const second = Math.floor(sinceMs / 1000);
  if (second >= command.seconds) return;
  buckets[second] += bytes;
  totalBytes += bytes;
  lastMs = sinceMs;
};

async function produce() {
  const producer =
    command.library === 'kafkajs'
      ? kafka.producer()
      : kafka.producer({ lingerMs: 0, batchSize: 256 * 1024, idempotent: false });
  await producer.connect();
  const value = Buffer.alloc(command.valueBytes, 'q');
  const messages = Array.from({ length: recordsPerSend }, () => ({ value }));
  const sendBytes = recordsPerSend * command.valueBytes;
  const maxBytes = command.maxBytes ?? Number.POSITIVE_INFINITY;
  startedMs = performance.now();
  const deadlineMs = startedMs + command.seconds * 1000;
  let sentBytes = 0;
  const loop = async () => {
    while (performance.now() < deadlineMs && sentBytes < maxBytes) {
      sentBytes += sendBytes;
      await producer.send({ topic: command.topic, acks: 1, messages });
      count(sendBytes);
    }
  };
  await Promise.all(Array.from({ length: sendsInFlight }, loop));
  const elapsedMs = performance.now() - startedMs;
  await producer.disconnect();
  return elapsedMs;
}

async function consume() {
  const consumer = kafka.consumer({
    groupId: `${command.clientId}-${process.pid}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: command.topic, fromBeginning: true });
  let done;
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  let timer;
  await consumer.run({
    eachBatch: async ({ batch }) => {
      if (startedMs === 0) {
        // Timed from the first records: joining the group is not the quota's business.
        startedMs = performance.now();
        timer = setTimeout(() => done(), command.seconds * 1000);
      }
      let bytes = 0;
      for (const message of batch.messages) bytes += message.value?.length ?? 0;
      count(bytes);
    },
  });
  await finished;
  clearTimeout(timer);
  const elapsedMs = performance.now() - startedMs;
  await consumer.disconnect();
  return elapsedMs;
}

const elapsedMs = command.role === 'produce' ? await produce() : await consume();
process.stdout.write(
  `${JSON.stringify({
    buckets,
    totalBytes,
    elapsedMs,
    lastMs,
    requests,
    throttle,
    version: command.library === 'kafkajs' ? 'kafkajs 2.2.4' : '@gregor/client',
  })}\n`,
);
process.exit(0);
