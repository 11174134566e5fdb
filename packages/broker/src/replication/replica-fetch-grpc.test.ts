import { once } from 'node:events';
import { createServer, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { ErrorCode } from '@gregor/protocol';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { internalServerOptions } from '../grpc/protos.js';
import { createLogger } from '../logging.js';
import {
  fromWireRequest,
  ReplicaFetchClient,
  registerReplicaFetchService,
  replicaFetchReceiveWindowBytes,
  toWireRequest,
  type WireReplicaFetchRequest,
} from './replica-fetch-grpc.js';

const clusterId = 'stream-test-cluster';
const servers: grpc.Server[] = [];
const clients: ReplicaFetchClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) server.forceShutdown();
});

/** A node's ReplicaFetch service before its replica manager exists: every fetch is refused. */
async function leaderService(): Promise<{ server: grpc.Server; client: ReplicaFetchClient }> {
  const server = new grpc.Server(internalServerOptions);
  registerReplicaFetchService(
    server,
    clusterId,
    () => undefined,
    createLogger({ nodeId: 1, level: 'silent' }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    ),
  );
  servers.push(server);
  const client = new ReplicaFetchClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  clients.push(client);
  return { server, client };
}

function fetchRequest(cluster = clusterId): WireReplicaFetchRequest {
  return {
    clusterId: cluster,
    replicaId: 2,
    brokerEpoch: 1,
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 1 << 20,
    partitions: [],
  };
}

describe('the replica fetch stream', () => {
  it('answers each fetch written on one stream with one message, in order', async () => {
    const { client } = await leaderService();
    const stream = client.openStream();
    expect((await stream.fetch(fetchRequest('another-cluster'), 5_000)).errorCode).toBe(
      ErrorCode.INCONSISTENT_CLUSTER_ID,
    );
    expect((await stream.fetch(fetchRequest(), 5_000)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect((await stream.fetch(fetchRequest('another-cluster'), 5_000)).errorCode).toBe(
      ErrorCode.INCONSISTENT_CLUSTER_ID,
    );
    expect(stream.ended).toBe(false);
  });

  it('refuses a second fetch while one is pending, and ends for good when the leader goes away', async () => {
    const { server, client } = await leaderService();
    const stream = client.openStream();
    await stream.fetch(fetchRequest(), 5_000);
    const pending = stream.fetch(fetchRequest(), 5_000);
    await expect(stream.fetch(fetchRequest(), 5_000)).rejects.toThrow('a fetch is already pending');
    await pending;
    server.forceShutdown();
    await expect(stream.fetch(fetchRequest(), 5_000)).rejects.toThrow();
    expect(stream.ended).toBe(true);
    await expect(stream.fetch(fetchRequest(), 5_000)).rejects.toThrow('replica fetch stream ended');
  });
});

describe('an aborted replica fetch', () => {
  it('rejects before its answer and ends the stream; an abort after the answer changes nothing', async () => {
    const { client } = await leaderService();
    const answered = client.openStream();
    const late = new AbortController();
    expect((await answered.fetch(fetchRequest(), 5_000, late.signal)).errorCode).toBe(
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
    );
    late.abort();
    expect(answered.ended).toBe(false);
    expect((await answered.fetch(fetchRequest(), 5_000)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);

    const stream = client.openStream();
    const early = new AbortController();
    const pending = stream.fetch(fetchRequest(), 5_000, early.signal);
    early.abort();
    await expect(pending).rejects.toThrow('replica fetch aborted');
    expect(stream.ended).toBe(true);
  });
});

describe("the follower's receive window", () => {
  // HTTP/2's default of 64 KiB would have a leader send a ~500 KiB answer in parts, each waiting for
  // the follower's WINDOW_UPDATE: round trips between two busy processes inside an acks=all round.
  it('lets the leader send a whole replica.fetch.response.max.bytes answer without waiting', async () => {
    const server = createServer();
    const sessions: Http2Session[] = [];
    server.on('session', (session) => sessions.push(session));
    server.on('stream', () => {
      // Never answered: only the follower's settings and window matter here.
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const client = new ReplicaFetchClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    clients.push(client);
    const stream = client.openStream();
    const answer = stream.fetch(fetchRequest(), 5_000).catch(() => undefined);
    try {
      for (let tries = 0; tries < 200; tries++) {
        const session = sessions[0];
        // The follower's WINDOW_UPDATE for the connection follows its SETTINGS.
        if (
          session?.remoteSettings.initialWindowSize !== undefined &&
          session.state.remoteWindowSize! > 65_535
        )
          break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const session = sessions[0]!;
      const responseMaxBytesDefault = 10 * 1024 * 1024;
      expect(replicaFetchReceiveWindowBytes).toBeGreaterThanOrEqual(responseMaxBytesDefault);
      // Per stream (SETTINGS_INITIAL_WINDOW_SIZE) and for the whole connection.
      expect(session.remoteSettings.initialWindowSize).toBe(replicaFetchReceiveWindowBytes);
      expect(session.state.remoteWindowSize).toBe(replicaFetchReceiveWindowBytes);
    } finally {
      stream.end(new Error('test over'));
      await answer;
      for (const session of sessions) session.destroy();
      server.close();
    }
  });
});

describe('the wire mapping', () => {
  it("carries the follower's log start offset both ways (what the leader's low watermark waits for)", () => {
    const request = {
      replicaId: 2,
      brokerEpoch: 7,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 1 << 20,
      partitions: [
        {
          topic: 't',
          partition: 0,
          currentLeaderEpoch: 3,
          fetchOffset: 10,
          lastFetchedEpoch: 3,
          logStartOffset: 6,
          partitionMaxBytes: 1 << 20,
        },
      ],
    };
    const wire = toWireRequest(clusterId, request);
    expect(wire.partitions[0]!.logStartOffset).toBe(6);
    expect(fromWireRequest(wire)).toEqual(request);
  });
});
