// request_percentage and the connection limits against a broker process. `gregor configs` (the
// flags of kafka-configs.sh) sets request_percentage on a client id and a user, DescribeClientQuotas
// shows them, and a client that floods cheap Metadata requests over a raw KafkaConnection gets
// throttle_time_ms in its responses while another client id does not; so does a producer sending
// multi-record Produce requests one at a time under request_percentage. The broker listens on
// 0.0.0.0, so clients connect from several 127.0.0.0/8 addresses: 127.0.0.3 has a
// max.connections.per.ip.overrides entry of 2 and 127.0.0.4 a connection_creation_rate of 1 a
// second; connections beyond those are closed unanswered while 127.0.0.2 connects as it likes. (The
// limited addresses are not 127.0.0.1, which the CLI and the cluster's readiness checks use.)

import { execFileSync } from 'node:child_process';
import { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const cliTimeoutMs = 60_000;
/** More requests than this without a throttle means request_percentage is not enforced. */
const floodRequestsMax = 20_000;
const floodBatch = 20;
/** request_percentage of the producer of multi-record requests: 10 ms of loop over a fresh 10 s window. */
const batcherRequestPercentage = 0.1;
/** Records in each of its requests, as Gregor's client puts several sends in one. */
const recordsPerRequest = 8;
/** Produce requests of a client id without a quota first, so the JIT has compiled the path. */
const warmUpRequests = 2_000;
/** More requests than this without a throttle means its requests' time is not counted. */
const batcherRequestsMax = 20_000;
/** Connections from the rate-limited address before one must be throttled (1/s over 10 s: 10). */
const rateLimitedAttemptsMax = 40;

let cluster: ProcessCluster;
let bootstrap: string;
let port: number;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      listeners: 'PLAINTEXT://0.0.0.0:0,CONTROLLER://127.0.0.1:0',
      // Port 0 advertises the port the listener bound.
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:0',
      'max.connections.per.ip.overrides': '127.0.0.3:2',
    },
  });
  port = cluster.node(1).kafkaPort;
  bootstrap = `127.0.0.1:${port}`;
});

afterAll(async () => {
  await cluster?.close();
});

function configs(...args: string[]): string {
  return execFileSync(process.execPath, [cliPath, 'configs', '--bootstrap-server', bootstrap, ...args], {
    encoding: 'utf8',
    timeout: cliTimeoutMs,
  });
}

function open(localAddress: string, clientId = 'quota-test'): Promise<KafkaConnection> {
  return KafkaConnection.open({ host: '127.0.0.1', port, localAddress, clientId, connectTimeoutMs: 10_000 });
}

const metadataBody = {
  topics: [],
  allowAutoTopicCreation: false,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
};

/** Whether the broker answers an ApiVersions on the connection (false: it closed it unanswered). */
async function answers(connection: KafkaConnection): Promise<boolean> {
  try {
    const response = await connection.call(
      ApiKey.ApiVersions,
      3,
      { clientSoftwareName: 'quota-test', clientSoftwareVersion: '1' },
      10_000,
    );
    return response.errorCode === 0;
  } catch {
    return false;
  }
}

describe('request_percentage (KIP-124)', () => {
  it('is accepted and described for clients and users, and throttles a client that floods cheap requests', async () => {
    const flooder = ['--entity-type', 'clients', '--entity-name', 'flooder'];
    expect(configs('--alter', '--add-config', 'request_percentage=0.01', ...flooder)).toBe(
      "Completed updating config for entity: client-id 'flooder'.\n",
    );
    expect(configs('--describe', ...flooder)).toBe(
      "Quota configs for client-id 'flooder' are request_percentage=0.01\n",
    );
    const user = ['--entity-type', 'users', '--entity-name', 'alice'];
    expect(configs('--alter', '--add-config', 'request_percentage=50', ...user)).toBe(
      "Completed updating config for entity: user-principal 'alice'.\n",
    );
    expect(configs('--describe', ...user)).toBe(
      "Quota configs for user-principal 'alice' are request_percentage=50.0\n",
    );

    // 0.01 % of one thread over the 10 s of a fresh window is 1 ms of the broker's loop.
    const connection = await open('127.0.0.1', 'flooder');
    const polite = await open('127.0.0.1', 'polite');
    try {
      let throttleTimeMs = 0;
      let sent = 0;
      while (throttleTimeMs === 0 && sent < floodRequestsMax) {
        const batch = Array.from({ length: floodBatch }, () =>
          connection.call(ApiKey.Metadata, 9, metadataBody),
        );
        sent += floodBatch;
        for (const response of await Promise.all(batch)) {
          throttleTimeMs = Math.max(throttleTimeMs, response.throttleTimeMs);
        }
      }
      expect(throttleTimeMs).toBeGreaterThan(0);
      // request_percentage throttles for at most one quota window (quota.window.size.seconds = 1).
      expect(throttleTimeMs).toBeLessThanOrEqual(1_000);
      // A client id without a quota is not throttled.
      const other = await polite.call(ApiKey.Metadata, 9, metadataBody);
      expect(other.throttleTimeMs).toBe(0);
    } finally {
      connection.close();
      polite.close();
    }

    expect(configs('--alter', '--delete-config', 'request_percentage', ...flooder)).toBe(
      "Completed updating config for entity: client-id 'flooder'.\n",
    );
    expect(configs('--describe', ...flooder)).toBe('');
  });

  // Each request's time includes the continuations after the Produce handler's await (the log
  // append, the response), metered with promise hooks; quotas/request-throttling.test.ts pins that
  // on a manual clock. (Counting only the synchronous parts throttled this producer too, after
  // 31-107 requests against 50-61 with the meters, 2026-12-06 under a load of 11: real timings
  // cannot tell the two apart reliably, a manual clock can.)
  it('throttles a producer of multi-record requests over its request_percentage', async () => {
    const batcher = ['--entity-type', 'clients', '--entity-name', 'batcher'];
    configs('--alter', '--add-config', `request_percentage=${batcherRequestPercentage}`, ...batcher);
    // The topic is created, and the produce path warmed up, by a client id without a quota.
    const unlimited = await open('127.0.0.1', 'unlimited');
    const connection = await open('127.0.0.1', 'batcher');
    const records = batchOf(Array.from({ length: recordsPerRequest }, () => 'v'.repeat(100)));
    const produce = async (producer: KafkaConnection): Promise<number> => {
      const response = await producer.call(ApiKey.Produce, 8, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 10_000,
        topics: [{ name: 'batched', partitions: [{ partitionIndex: 0, records }] }],
      });
      expect(response.responses[0]!.partitions[0]!.errorCode).toBe(0);
      return response.throttleTimeMs;
    };
    try {
      const created = await unlimited.call(ApiKey.CreateTopics, 4, {
        topics: [{ name: 'batched', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 10_000,
        validateOnly: false,
      });
      expect(created.topics[0]!.errorCode).toBe(0);
      await waitFor('the new partition led', async () => {
        try {
          return (await produce(unlimited)) === 0;
        } catch {
          return false;
        }
      });
      for (let i = 0; i < warmUpRequests; i++) expect(await produce(unlimited)).toBe(0);
      let throttleTimeMs = 0;
      let sent = 0;
      while (throttleTimeMs === 0 && sent < batcherRequestsMax) {
        throttleTimeMs = await produce(connection);
        sent++;
      }
      expect(throttleTimeMs).toBeGreaterThan(0);
      expect(throttleTimeMs).toBeLessThanOrEqual(1_000);
    } finally {
      connection.close();
      unlimited.close();
      configs('--alter', '--delete-config', 'request_percentage', ...batcher);
    }
  });
});

describe('connection limits', () => {
  it('closes connections past max.connections.per.ip.overrides for that address only', async () => {
    const limited = [await open('127.0.0.3'), await open('127.0.0.3')];
    const elsewhere = [await open('127.0.0.2'), await open('127.0.0.2'), await open('127.0.0.2')];
    try {
      for (const connection of [...limited, ...elsewhere]) expect(await answers(connection)).toBe(true);
      const third = await open('127.0.0.3');
      expect(await answers(third)).toBe(false);
      third.close();
      // The node's log line reaches this process through its stdout pipe a moment later.
      await waitFor('the refusal in the node log', () =>
        cluster
          .node(1)
          .output.join('')
          .includes(
            'rejected connection from 127.0.0.3: the address already has the configured maximum of 2 connections',
          ),
      );
      // A closed connection gives its slot back.
      limited.pop()!.close();
      await waitFor('a connection from 127.0.0.3 served again', async () => {
        const again = await open('127.0.0.3');
        const ok = await answers(again);
        if (ok) limited.push(again);
        else again.close();
        return ok;
      });
    } finally {
      for (const connection of [...limited, ...elsewhere]) connection.close();
    }
  });

  it("closes, unanswered, connections over an ip entity's connection_creation_rate, and leaves other addresses alone", async () => {
    const ip = ['--entity-type', 'ips', '--entity-name', '127.0.0.4'];
    expect(configs('--alter', '--add-config', 'connection_creation_rate=1', ...ip)).toBe(
      "Completed updating config for entity: ip '127.0.0.4'.\n",
    );
    expect(configs('--describe', ...ip)).toBe(
      "Quota configs for ip '127.0.0.4' are connection_creation_rate=1.0\n",
    );

    let admitted = 0;
    let throttled = false;
    for (let attempt = 0; attempt < rateLimitedAttemptsMax && !throttled; attempt++) {
      const connection = await open('127.0.0.4');
      if (await answers(connection)) admitted++;
      else throttled = true;
      connection.close();
    }
    expect(throttled).toBe(true);
    // 1 a second over a fresh 10 s window admits about ten before the first is throttled.
    expect(admitted).toBeGreaterThanOrEqual(5);
    await waitFor('the delayed close in the node log', () =>
      cluster.node(1).output.join('').includes('delaying closing of connection from 127.0.0.4'),
    );
    // Another address is not limited.
    for (let i = 0; i < 15; i++) {
      const connection = await open('127.0.0.2');
      expect(await answers(connection)).toBe(true);
      connection.close();
    }
    configs('--alter', '--delete-config', 'connection_creation_rate', ...ip);
  });
});
