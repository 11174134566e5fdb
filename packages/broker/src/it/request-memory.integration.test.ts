// queued.max.request.bytes against a real broker process: slow clients that each send part of a
// large frame hold the request memory pool; a complete frame that does not fit waits unread (its
// connection muted) while a well-behaved client's small requests are still served, and it is read
// and answered as soon as a slow client goes away and gives its reservation back.
// Resident memory figures are in `npm run bench:memory`, not here.

import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { decodeResponse, ErrorCode, encodeRecordBatch, encodeRequest } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const frameMaxBytes = 1024 * 1024;
/** Room for two claimed frames of `claimedBytes` and some small requests, not for a third large one. */
const requestMemoryBytes = 2.5 * 1024 * 1024;
const claimedBytes = 1_000_000;
const topic = 'memory';
/** A stalled request is expected to stay unanswered at least this long (it would be answered in ms). */
const stallObservedMs = 1_500;

let cluster: ProcessCluster;
let port: number;
let canary: KafkaConnection;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      'socket.request.max.bytes': String(frameMaxBytes),
      'queued.max.request.bytes': String(requestMemoryBytes),
      'offsets.topic.replication.factor': '1',
    },
  });
  port = cluster.node(1).kafkaPort;
  canary = await KafkaConnection.open({ host: '127.0.0.1', port });
  await waitForLeader();
});

afterAll(async () => {
  canary?.close();
  await cluster?.close();
});

async function waitForLeader(): Promise<void> {
  await waitFor(
    `a leader of topic ${topic}`,
    async () => {
      const metadata = await canary.call(ApiKey.Metadata, 4, {
        topics: [{ name: topic }],
        allowAutoTopicCreation: true,
      });
      const partition = metadata.topics[0]?.partitions[0];
      return (
        metadata.topics[0]?.errorCode === ErrorCode.NONE && partition !== undefined && partition.leaderId >= 0
      );
    },
    { timeoutMs: 10_000, intervalMs: 100, detail: () => cluster.tail() },
  );
}

/** A Produce request frame (size prefix included) carrying one record of `valueBytes`. */
function produceFrame(correlationId: number, valueBytes: number): Buffer {
  return encodeRequest(
    ApiKey.Produce,
    7,
    correlationId,
    'memory-test',
    {
      transactionalId: null,
      acks: 1,
      timeoutMs: 10_000,
      topics: [
        {
          name: topic,
          partitions: [
            {
              partitionIndex: 0,
              records: encodeRecordBatch({
                records: [{ key: null, value: Buffer.alloc(valueBytes, 7), timestamp: Date.now() }],
              }),
            },
          ],
        },
      ],
    },
    { sizePrefix: true },
  );
}

/** Resolves with the first response frame read from `socket` (size prefix stripped). */
function firstResponse(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        resolve(pending.subarray(4, 4 + pending.readInt32BE(0)));
      }
    });
    socket.on('close', () => reject(new Error('closed before any response')));
  });
}

async function openRaw(): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  return socket;
}

/** Starts a frame claiming `claimedBytes` and sends only its first kilobyte. */
async function slowClient(): Promise<Socket> {
  const socket = await openRaw();
  const header = Buffer.alloc(4);
  header.writeInt32BE(claimedBytes, 0);
  socket.write(Buffer.concat([header, Buffer.alloc(1024, 1)]));
  return socket;
}

async function canaryRound(): Promise<void> {
  const metadata = await canary.call(ApiKey.Metadata, 1, { topics: [{ name: topic }] }, 10_000);
  expect(metadata.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

describe('queued.max.request.bytes', () => {
  it('holds back a frame that does not fit, serves other clients, and reads it once memory is freed', async () => {
    const slowA = await slowClient();
    const slowB = await slowClient();
    // The broker reads both size headers (reserving 2 x 1,000,000 bytes) before it answers this.
    await canaryRound();

    const waiting = await openRaw();
    const answered = firstResponse(waiting);
    const frame = produceFrame(42, 900_000);
    expect(frame.length - 4).toBeGreaterThan(requestMemoryBytes - 2 * claimedBytes);
    waiting.write(frame);

    // While the two slow clients hold the pool, the large request is not read...
    const early = await Promise.race([
      answered.then(() => 'answered'),
      new Promise((resolve) => setTimeout(() => resolve('waiting'), stallObservedMs)),
    ]);
    expect(early).toBe('waiting');
    // ...and small requests of another client still are.
    await canaryRound();
    await canaryRound();

    // One slow client leaves: its partial frame's reservation returns and the waiter resumes.
    slowA.destroy();
    const response = decodeResponse(ApiKey.Produce, 7, await answered);
    expect(response.ok).toBe(true);
    if (response.ok) expect(response.body.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);

    // With the other slow client gone too, a second large request goes straight through.
    slowB.destroy();
    const again = await openRaw();
    const againAnswered = firstResponse(again);
    again.write(produceFrame(43, 900_000));
    const second = decodeResponse(ApiKey.Produce, 7, await againAnswered);
    expect(second.ok && second.body.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    waiting.destroy();
    again.destroy();
  });

  it('refuses a frame above socket.request.max.bytes by closing only that connection', async () => {
    const bad = await openRaw();
    const header = Buffer.alloc(4);
    header.writeInt32BE(frameMaxBytes + 1, 0);
    bad.write(header);
    await once(bad, 'close');
    await canaryRound();
  });
});
