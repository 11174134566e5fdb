// request_percentage and the connection limits against a broker process. `gregor configs` (the
// flags of kafka-configs.sh) sets request_percentage on a client id and a user, DescribeClientQuotas
// shows them, and a client that floods cheap Metadata requests over a raw KafkaConnection gets
// throttle_time_ms in its responses while another client id does not. The broker listens on
// 0.0.0.0, so clients connect from several 127.0.0.0/8 addresses: 127.0.0.3 has a
// max.connections.per.ip.overrides entry of 2 and 127.0.0.4 a connection_creation_rate of 1 a
// second; connections beyond those are closed unanswered while 127.0.0.2 connects as it likes. (The
// limited addresses are not 127.0.0.1, which the CLI and the cluster's readiness checks use.)

import { execFileSync } from 'node:child_process';
import { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const cliTimeoutMs = 60_000;
/** More requests than this without a throttle means request_percentage is not enforced. */
const floodRequestsMax = 20_000;
const floodBatch = 20;
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
