// queued.max.request.bytes against a real broker process: slow clients that each send part of a
// large frame hold the request memory pool; a complete frame that does not fit waits unread (its
// connection muted) while a well-behaved client's small requests are still served, and it is read
// and answered as soon as a slow client goes away and gives its reservation back. Twenty slow
// clients whose frames together claim eight times the pool are served two at a time, in the order
// they came, and give everything back when they close. What the broker holds is read from its
// metrics (MemoryPoolUsed, the waiting connections, the peak ever reserved), not inferred from time.
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
      'gregor.metrics.port': '0',
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

interface PoolState {
  readonly usedBytes: number;
  readonly usedBytesMax: number;
  readonly availableBytes: number;
  readonly waitingConnections: number;
}

/** The request memory pool as the broker's /metrics shows it now. */
async function poolState(): Promise<PoolState> {
  const text = await (await fetch(`http://127.0.0.1:${cluster.node(1).metricsPort}/metrics`)).text();
  const value = (name: string) => {
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (match === null) throw new Error(`no ${name} in /metrics`);
    return Number(match[1]);
  };
  return {
    usedBytes: value('kafka_network_socketserver_memorypoolused'),
    usedBytesMax: value('gregor_request_memory_used_max_bytes'),
    availableBytes: value('kafka_network_socketserver_memorypoolavailable'),
    waitingConnections: value('gregor_request_memory_waiting_connections'),
  };
}

/** Waits until the pool holds `usedBytes` with `waitingConnections` waiting, and checks the bound. */
async function poolReaches(usedBytes: number, waitingConnections: number): Promise<PoolState> {
  const state = await waitFor(
    `request memory ${usedBytes} bytes used, ${waitingConnections} connections waiting`,
    async () => {
      const now = await poolState();
      return now.usedBytes === usedBytes && now.waitingConnections === waitingConnections ? now : undefined;
    },
    { timeoutMs: 30_000, detail: async () => JSON.stringify(await poolState()) },
  );
  expect(state.availableBytes).toBe(requestMemoryBytes - usedBytes);
  // Never, since the broker started, more than the bound at once.
  expect(state.usedBytesMax).toBeLessThanOrEqual(requestMemoryBytes);
  return state;
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

    await poolReaches(2 * claimedBytes, 0);

    const waiting = await openRaw();
    let isAnswered = false;
    const answered = firstResponse(waiting).finally(() => {
      isAnswered = true;
    });
    const frame = produceFrame(42, 900_000);
    expect(frame.length - 4).toBeGreaterThan(requestMemoryBytes - 2 * claimedBytes);
    waiting.write(frame);

    // While the two slow clients hold the pool, the large request waits unread...
    await poolReaches(2 * claimedBytes, 1);
    // ...and small requests of another client are still served.
    await canaryRound();
    await canaryRound();
    expect(isAnswered).toBe(false);
    expect((await poolState()).waitingConnections).toBe(1);

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

  it('serves twenty slow clients claiming eight times the pool two at a time, in turn, and frees it all when they close', async () => {
    await poolReaches(0, 0);
    const clientCount = 20;
    // Real Produce frames of about 1 MB, sent in two parts: two fit the pool, a third does not.
    const frames = Array.from({ length: clientCount }, (_, i) => produceFrame(100 + i, 999_000));
    const frameBytes = frames[0]!.length - 4;
    expect(2 * frameBytes).toBeLessThanOrEqual(requestMemoryBytes);
    expect(3 * frameBytes).toBeGreaterThan(requestMemoryBytes);
    expect(clientCount * frameBytes).toBeGreaterThan(7 * requestMemoryBytes);

    // Each connects and sends its size header and first kilobyte once the one before is seen by the
    // broker: the first two reserve their whole frame, the rest wait for memory, in this order.
    const clients: { socket: Socket; answered: Promise<Buffer> }[] = [];
    for (let i = 0; i < clientCount; i++) {
      const socket = await openRaw();
      clients.push({ socket, answered: firstResponse(socket) });
      socket.write(frames[i]!.subarray(0, 4 + 1024));
      await poolReaches(Math.min(i + 1, 2) * frameBytes, Math.max(0, i - 1));
    }
    // A client with small requests is served all the while.
    await canaryRound();

    // Each finishes its frame in the order they came. Its answer frees its reservation, which goes
    // to the oldest waiter: client i is reserved (else its answer never came) and the queue shrinks.
    for (let i = 0; i < clientCount; i++) {
      clients[i]!.socket.write(frames[i]!.subarray(4 + 1024));
      const response = decodeResponse(ApiKey.Produce, 7, await clients[i]!.answered);
      expect(response.ok && response.body.responses[0]!.partitions[0]!.errorCode, `client ${i}`).toBe(
        ErrorCode.NONE,
      );
      const left = clientCount - i - 1;
      await poolReaches(Math.min(left, 2) * frameBytes, Math.max(0, left - 2));
    }
    for (const { socket } of clients) socket.destroy();

    // Twenty more hold and wait again, then close with their frames partial: everything comes back.
    const leaving: Socket[] = [];
    for (let i = 0; i < clientCount; i++) {
      const socket = await openRaw();
      leaving.push(socket);
      socket.write(frames[i]!.subarray(0, 4 + 1024));
    }
    await poolReaches(2 * frameBytes, clientCount - 2);
    for (const socket of leaving) socket.destroy();
    await poolReaches(0, 0);
    await canaryRound();
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
