import { createServer, type Server, type Socket } from 'node:net';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { internalServerOptions } from '../grpc/protos.js';
import { createLogger } from '../logging.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import {
  highWatermarkPartitionsPerRequestMax,
  LeaderHighWatermarksClients,
  registerLeaderHighWatermarksService,
} from './leader-high-watermarks-grpc.js';

const clusterId = 'hw-test-cluster';
const servers: grpc.Server[] = [];
const clients: LeaderHighWatermarksClients[] = [];
const silentPeers: { server: Server; sockets: Socket[] }[] = [];
let cluster: LocalClusterFixture | undefined;

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) server.forceShutdown();
  for (const { server, sockets } of silentPeers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
  await cluster?.close();
  cluster = undefined;
});

async function leaderService(manager: ReplicaManager | undefined): Promise<string> {
  const server = new grpc.Server(internalServerOptions);
  registerLeaderHighWatermarksService(
    server,
    clusterId,
    () => manager,
    createLogger({ nodeId: 1, level: 'silent' }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    ),
  );
  servers.push(server);
  return `127.0.0.1:${port}`;
}

function clientsOf(cluster = clusterId): LeaderHighWatermarksClients {
  const created = new LeaderHighWatermarksClients(cluster, grpc.credentials.createInsecure());
  clients.push(created);
  return created;
}

describe('the LeaderHighWatermarks service', () => {
  it('answers the high watermark of partitions the callee leads and an error for the others, in order', async () => {
    cluster = await LocalClusterFixture.start();
    const fixture = cluster;
    const created = await fixture.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: 'orders', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
    const produced = await fixture.request(ApiKey.Produce, 7, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, records: batchOf(['a', 'b', 'c']) }] }],
    });
    expect(produced.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    const address = await leaderService(fixture.replicaManager);

    const answers = await clientsOf().list(
      1,
      address,
      [
        { topic: 'nowhere', partition: 0 },
        { topic: 'orders', partition: 0 },
        { topic: 'orders', partition: 1 },
      ],
      5_000,
    );
    expect(answers).toEqual([
      { topic: 'nowhere', partition: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1 },
      { topic: 'orders', partition: 0, errorCode: ErrorCode.NONE, highWatermark: 3 },
      { topic: 'orders', partition: 1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1 },
    ]);
  });

  it('refuses another cluster, and answers NOT_LEADER_OR_FOLLOWER for every partition before it serves', async () => {
    const address = await leaderService(undefined);
    const wanted = [{ topic: 'orders', partition: 0 }];
    expect(await clientsOf('another-cluster').list(1, address, wanted, 5_000)).toEqual([
      { topic: 'orders', partition: 0, errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, highWatermark: -1 },
    ]);
    expect(await clientsOf().list(1, address, wanted, 5_000)).toEqual([
      { topic: 'orders', partition: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, highWatermark: -1 },
    ]);
  });

  it('splits more partitions than one call may carry over several calls', async () => {
    const address = await leaderService(undefined);
    const wanted = Array.from({ length: highWatermarkPartitionsPerRequestMax + 3 }, (_, partition) => ({
      topic: 'wide',
      partition,
    }));
    const answers = await clientsOf().list(1, address, wanted, 10_000);
    expect(answers.map((answer) => answer.partition)).toEqual(wanted.map((entry) => entry.partition));
    // Refused as too large, it would be INVALID_REQUEST for all.
    expect(new Set(answers.map((answer) => answer.errorCode))).toEqual(
      new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER]),
    );
  });

  it('gives up at the deadline on a peer that accepts the connection and never answers', async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
    });
    silentPeers.push({ server, sockets });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const listing = clientsOf().list(2, `127.0.0.1:${port}`, [{ topic: 'orders', partition: 0 }], 300);
    await expect(listing).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
  });
});
