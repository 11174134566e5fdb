// Client quotas through the router: a Produce or consumer Fetch over its client's byte rate gets
// throttle_time_ms and a throttle for its connection; a Fetch over quota is answered without records.
// A client whose requests take more than its request_percentage of the loop gets the same.

import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { type Clock, ManualClock, ManualTimers } from '@gregor/ground';
import { ApiKey, decodeResponse, ErrorCode, encodeRequest, type RequestInput } from '@gregor/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiHandlers } from '../apis/api-handlers.js';
import { Connection } from '../network/connection.js';
import { RequestMemoryPool } from '../network/request-memory-pool.js';
import { createRequestRouter } from '../request-router.js';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { type ContinuationHooks, promiseContinuationHooks } from './request-time-meters.js';

let cluster: LocalClusterFixture;
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) server.close();
  await cluster.close();
});

async function setQuota(
  key: string,
  value: number | null,
  entity = [{ entityType: 'client-id', entityName: 'fixture-client' }],
) {
  const response = await cluster.request(ApiKey.AlterClientQuotas, 1, {
    entries: [{ entity, ops: [{ key, value: value ?? 0, remove: value === null }] }],
    validateOnly: false,
  });
  expect(response.entries[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function createTopic(name: string) {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

const produceBody = (records: Buffer, acks = 1): RequestInput<typeof ApiKey.Produce> => ({
  transactionalId: null,
  acks,
  timeoutMs: 1000,
  topics: [{ name: 't', partitions: [{ partitionIndex: 0, records }] }],
});

const fetchBody = (fetchOffset: number): RequestInput<typeof ApiKey.Fetch> => ({
  replicaId: -1,
  maxWaitMs: 0,
  minBytes: 0,
  maxBytes: 50 * 1024 * 1024,
  isolationLevel: 0,
  sessionId: 0,
  sessionEpoch: -1,
  topics: [
    {
      topic: 't',
      partitions: [
        {
          partition: 0,
          currentLeaderEpoch: -1,
          fetchOffset: BigInt(fetchOffset),
          logStartOffset: -1n,
          partitionMaxBytes: 1024 * 1024,
        },
      ],
    },
  ],
  forgottenTopicsData: [],
  rackId: '',
});

const bigBatch = () => batchOf([Buffer.alloc(20_000, 'x').toString()]);

/**
 * A client socket to a Connection (with `timers`) that routes into the fixture cluster: it sends
 * Metadata v9 requests and collects each response's throttle_time_ms. `onSocket` may instrument
 * the server side's socket before the Connection takes it.
 */
async function metadataClient(timers: ManualTimers, onSocket: (socket: Socket) => void = () => {}) {
  const server = createServer((socket) => {
    onSocket(socket);
    new Connection(
      socket,
      { connectionId: 1, remoteAddress: String(socket.remoteAddress), listenerName: 'PLAINTEXT' },
      (frame) => cluster.sendFrame(frame),
      { onProtocolError: () => {}, onClosedAfterResponse: () => {}, onClose: () => {} },
      { frameMaxBytes: 1 << 20, requestMemory: new RequestMemoryPool(1 << 20), timers },
    );
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const throttles: number[] = [];
  let pending = Buffer.alloc(0);
  client.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
      const response = decodeResponse(ApiKey.Metadata, 9, frame);
      if (!response.ok) throw new Error(response.message);
      throttles.push(response.body.throttleTimeMs);
      pending = pending.subarray(frame.length + 4);
    }
  });
  const sendMetadata = (correlationId: number) => {
    const request = encodeRequest(ApiKey.Metadata, 9, correlationId, 'fixture-client', metadataBody);
    const size = Buffer.alloc(4);
    size.writeInt32BE(request.length, 0);
    client.write(Buffer.concat([size, request]));
  };
  return { client, throttles, sendMetadata };
}

describe('client quotas on the request path', () => {
  it('throttles a producer over producer_byte_rate: the records are appended, the response says how long to wait', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    const first = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    expect(first.kind === 'respond' && first.throttle).toBeUndefined();
    expect(first).not.toHaveProperty('underQuota');

    await setQuota('producer_byte_rate', 1000);
    const outcome = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    if (outcome.kind !== 'respond') throw new Error('expected a response');
    // The client has a quota now: its connection handles its requests one at a time.
    expect(outcome.underQuota).toBe(true);
    // 20 kB over a fresh 10 s window is 2 kB/s against 1 kB/s: wait about another 10 s.
    expect(outcome.throttle?.timeMs).toBeGreaterThan(9_000);
    expect(outcome.throttle?.delayResponse).toBe(false); // v7 clients throttle themselves (KIP-219)
    const response = decodeResponse(ApiKey.Produce, 7, outcome.response);
    if (!response.ok) throw new Error(response.message);
    expect(response.body.throttleTimeMs).toBe(outcome.throttle!.timeMs);
    expect(response.body.responses[0]!.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      baseOffset: 1n,
    });

    // A v5 client does not throttle itself: the connection holds its response back as well.
    const old = await cluster.send(ApiKey.Produce, 5, produceBody(bigBatch()));
    expect(old.kind === 'respond' && old.throttle?.delayResponse).toBe(true);
    // acks=0 has no response to carry it, but the connection is still throttled.
    const silent = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch(), 0));
    expect(silent).toMatchObject({ kind: 'no-response', throttle: { delayResponse: false } });

    await setQuota('producer_byte_rate', null);
    const free = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    expect(free.kind === 'respond' && free.throttle).toBeUndefined();
    expect(free).not.toHaveProperty('underQuota');
  });

  it('answers a consumer over consumer_byte_rate without records, and sends them once the rate allows', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    await setQuota('consumer_byte_rate', 1000);

    const throttled = await cluster.send(ApiKey.Fetch, 11, fetchBody(0));
    if (throttled.kind !== 'respond') throw new Error('expected a response');
    expect(throttled.throttle?.timeMs).toBeGreaterThan(0);
    const body = decodeResponse(ApiKey.Fetch, 11, throttled.response);
    if (!body.ok) throw new Error(body.message);
    expect(body.body.throttleTimeMs).toBe(throttled.throttle!.timeMs);
    expect(body.body.responses).toEqual([]);

    // The throttled response's bytes were not counted: with a quota the data fits, it is served.
    await setQuota('consumer_byte_rate', 5000);
    const served = await cluster.request(ApiKey.Fetch, 11, fetchBody(0));
    expect(served.throttleTimeMs).toBe(0);
    expect(served.responses[0]!.partitions[0]!.records?.length).toBeGreaterThan(20_000);
  });

  it('asks the log for no more than the consumer quota allows over its window', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    const sixKb = () => batchOf([Buffer.alloc(6_000, 'y').toString()]);
    await cluster.send(ApiKey.Produce, 7, produceBody(sixKb()));
    await cluster.send(ApiKey.Produce, 7, produceBody(sixKb()));
    // 1 kB/s over 10 windows of 1 s: at most 10 kB, so one of the two 6 kB batches.
    await setQuota('consumer_byte_rate', 1000);
    const capped = await cluster.request(ApiKey.Fetch, 11, fetchBody(0));
    expect(capped.throttleTimeMs).toBe(0);
    const records = capped.responses[0]!.partitions[0]!.records!;
    expect(records.length).toBeGreaterThan(6_000);
    expect(records.length).toBeLessThan(10_000);
  });
});

/** A request clock on which every reading is `stepMs` after the last: each request takes 2 steps. */
function steppingClock(): Clock & { stepMs: number } {
  let nowMs = 0;
  const clock = {
    stepMs: 0,
    nowMs: () => {
      nowMs += clock.stepMs;
      return nowMs;
    },
  };
  return clock;
}

const metadataBody: RequestInput<typeof ApiKey.Metadata> = {
  topics: [],
  allowAutoTopicCreation: false,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
};

describe('request_percentage on the request path', () => {
  it('throttles a client whose requests take more than its share of the loop, by at most one window', async () => {
    const requestClock = steppingClock();
    cluster = await LocalClusterFixture.start({ requestClock });
    await setQuota('request_percentage', 1);
    // Each request now takes 10 ms of loop time (5 ms before the handler waits, 5 ms after). 1 % of
    // one thread over the fresh 10 s window is 100 ms: ten requests fit.
    requestClock.stepMs = 5;
    for (let i = 0; i < 10; i++) {
      const outcome = await cluster.send(ApiKey.Metadata, 9, metadataBody);
      expect(outcome.kind === 'respond' && outcome.throttle, `request ${i + 1}`).toBeUndefined();
    }
    const over = await cluster.send(ApiKey.Metadata, 9, metadataBody);
    if (over.kind !== 'respond') throw new Error('expected a response');
    // 110 ms over 10 s is 1.1 %: (1.1 - 1) / 1 x 10 s, bounded by one window (quota.window.size.seconds).
    expect(over.throttle).toEqual({ timeMs: 1_000, delayResponse: false });
    const body = decodeResponse(ApiKey.Metadata, 9, over.response);
    if (!body.ok) throw new Error(body.message);
    expect(body.body.throttleTimeMs).toBe(1_000);

    // Metadata v5 is from before KIP-219: its response waits out the throttle too.
    const old = await cluster.send(ApiKey.Metadata, 5, metadataBody);
    expect(old.kind === 'respond' && old.throttle?.delayResponse).toBe(true);
    // ApiVersions is never throttled (a client must always be able to find out what to speak).
    const versions = await cluster.send(ApiKey.ApiVersions, 3, {
      clientSoftwareName: 'test',
      clientSoftwareVersion: '1',
    });
    expect(versions.kind === 'respond' && versions.throttle).toBeUndefined();

    // Another client id has no quota; once the quota is gone, neither does this one.
    requestClock.stepMs = 0;
    await setQuota('request_percentage', null);
    requestClock.stepMs = 5;
    const free = await cluster.send(ApiKey.Metadata, 9, metadataBody);
    expect(free.kind === 'respond' && free.throttle).toBeUndefined();
  });

  it('a Produce over both quotas gets the longer throttle', async () => {
    const requestClock = steppingClock();
    cluster = await LocalClusterFixture.start({ requestClock });
    await createTopic('t');
    await setQuota('request_percentage', 1);
    await setQuota('producer_byte_rate', 1000);
    requestClock.stepMs = 100; // 200 ms a request: 2 %, a 1 s throttle
    const outcome = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    if (outcome.kind !== 'respond') throw new Error('expected a response');
    // The byte rate's ~10 s is longer than request_percentage's 1 s.
    expect(outcome.throttle?.timeMs).toBeGreaterThan(9_000);
    const response = decodeResponse(ApiKey.Produce, 7, outcome.response);
    if (!response.ok) throw new Error(response.message);
    expect(response.body.throttleTimeMs).toBe(outcome.throttle!.timeMs);
  });

  it('mutes the connection of a throttled client: its next request is read only after the throttle', async () => {
    const requestClock = steppingClock();
    cluster = await LocalClusterFixture.start({ requestClock });
    await setQuota('request_percentage', 1);
    const timers = new ManualTimers(new ManualClock(0));
    const { client, throttles, sendMetadata } = await metadataClient(timers);
    requestClock.stepMs = 60; // 120 ms a request: 1.2 % of the window, over 1 % at once
    sendMetadata(1);
    await vi.waitFor(() => expect(throttles).toEqual([1_000]));
    expect(timers.pendingCount).toBe(1);
    sendMetadata(2);
    // Muted: the next request stays unread until the throttle ends.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(throttles).toHaveLength(1);
    timers.advanceMs(1_000);
    await vi.waitFor(() => expect(throttles).toHaveLength(2));
    expect(throttles[1]).toBeGreaterThan(0);
    client.destroy();
  });

  it('throttles the next request of a client whose responses take its share of the loop to write, though handling them takes none', async () => {
    // Nothing moves the request clock but the connection writing a response: 30 ms a write.
    const requestClock = new ManualClock(0);
    cluster = await LocalClusterFixture.start({ requestClock });
    await setQuota('request_percentage', 1);
    const timers = new ManualTimers(new ManualClock(0));
    const { client, throttles, sendMetadata } = await metadataClient(timers, (socket) => {
      const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
      socket.write = ((chunk: Buffer) => {
        requestClock.advanceMs(30);
        return write(chunk);
      }) as typeof socket.write;
    });
    // 1 % of one thread over a fresh 10 s window is 100 ms; each response's two writes take 60 ms,
    // counted once written, against the next request: the third finds 120 ms counted.
    sendMetadata(1);
    await vi.waitFor(() => expect(throttles).toEqual([0]));
    sendMetadata(2);
    await vi.waitFor(() => expect(throttles).toEqual([0, 0]));
    sendMetadata(3);
    // 1.2 % against 1 %: (1.2 - 1) / 1 x 10 s, bounded by one window.
    await vi.waitFor(() => expect(throttles).toEqual([0, 0, 1_000]));
    expect(timers.pendingCount).toBe(1);
    client.destroy();
  });

  it('counts the work a handler does after its awaits, and not the time it waits', async () => {
    const requestClock = new ManualClock(0);
    cluster = await LocalClusterFixture.start({ requestClock });
    await setQuota('request_percentage', 1);
    const handlers = apiHandlers();
    const metadata = handlers[ApiKey.Metadata]!;
    let disk = Promise.resolve();
    cluster.router = createRequestRouter(cluster.context, {
      ...handlers,
      [ApiKey.Metadata]: async (body, version, context) => {
        requestClock.advanceMs(1);
        await disk; // as a Produce waits for its append
        requestClock.advanceMs(20); // what follows the wait: the index update, the answer
        await Promise.resolve();
        requestClock.advanceMs(20);
        return metadata(body, version, context);
      },
    });
    const send = () => {
      let written!: () => void;
      disk = new Promise<void>((resolve) => {
        written = resolve;
      });
      const outcome = cluster.send(ApiKey.Metadata, 9, metadataBody);
      requestClock.advanceMs(500); // the request waits meanwhile: none of this is its time
      written();
      return outcome;
    };
    // 41 ms a request against 1 % of one thread over a fresh 10 s window (100 ms): two fit.
    for (let i = 0; i < 2; i++) {
      const outcome = await send();
      expect(outcome.kind === 'respond' && outcome.throttle, `request ${i + 1}`).toBeUndefined();
    }
    // Counting only the synchronous parts (1 ms a request), this one would fit as well.
    const over = await send();
    expect(over.kind === 'respond' && over.throttle).toEqual({ timeMs: 1_000, delayResponse: false });
  });

  it('enables no promise hooks for clients without a request_percentage quota', async () => {
    let enabled = 0;
    let on = false;
    const continuationHooks: ContinuationHooks = {
      enable: (callbacks) => {
        enabled++;
        on = true;
        const stop = promiseContinuationHooks.enable(callbacks);
        return () => {
          on = false;
          stop();
        };
      },
    };
    cluster = await LocalClusterFixture.start({ requestClock: steppingClock(), continuationHooks });
    await createTopic('t');
    await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    // A byte rate puts the client under a quota, but its request time is not counted.
    await setQuota('producer_byte_rate', 1_000_000);
    const produced = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    expect(produced).toMatchObject({ kind: 'respond', underQuota: true });
    // Nor does its connection read the clock: its outcomes carry no recorder for network time.
    expect(produced).not.toHaveProperty('networkTime');
    await setQuota('request_percentage', 50, [{ entityType: 'client-id', entityName: 'another-client' }]);
    await cluster.send(ApiKey.Metadata, 9, metadataBody);
    expect(enabled).toBe(0);

    // With request_percentage the hooks follow each request, and are off again once it is answered.
    await setQuota('request_percentage', 50);
    const metered = await cluster.send(ApiKey.Produce, 7, produceBody(bigBatch()));
    expect(metered).toHaveProperty('networkTime');
    expect(enabled).toBe(1);
    expect(on).toBe(false);
    // ApiVersions is exempt: not metered either.
    await cluster.send(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
    expect(enabled).toBe(1);
  });
});
