/**
 * Three drivers over real gRPC on 127.0.0.1 in one process: election, commits, leader loss, failover,
 * and the old leader coming back on its data directory but a new port (every server binds port 0;
 * the peers find the new port through the transport's addressOf). Waits poll status() with generous
 * bounds; nothing asserts on timing.
 */

import { waitFor } from '@gregor/ground/testing';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { QuorumVoter } from '../core/voters.js';
import { createRaftDriver } from '../create-raft-driver.js';
import type { RaftDriver } from '../driver/raft-driver.js';
import {
  encode,
  RecordingLogger,
  RecordingStateMachine,
  TEST_TIMEOUTS,
  TempDirectories,
} from '../testing/driver-harness.js';
import { RaftGrpcTransport } from './raft-grpc-transport.js';

const CLUSTER_ID = 'grpc-test-cluster';
const NODE_IDS = [1, 2, 3];

interface GrpcMember {
  driver: RaftDriver;
  /** Set when the test owns the (shared) server; undefined when the driver bound its own. */
  server: grpc.Server | undefined;
  stateMachine: RecordingStateMachine;
  logger: RecordingLogger;
  directory: string;
}

const directories = new TempDirectories();
const running: GrpcMember[] = [];

afterEach(async () => {
  for (const member of running.splice(0)) await stopMember(member);
  await directories.removeAll();
});

function bindEphemeral(server: grpc.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) =>
      error === null ? resolve(port) : reject(error),
    );
  });
}

async function stopMember(member: GrpcMember): Promise<void> {
  await member.driver.close();
  member.server?.forceShutdown();
}

async function startMember(
  nodeId: number,
  voters: readonly QuorumVoter[],
  directory: string,
  server: grpc.Server | undefined,
  addressOf?: (voterId: number) => string | undefined,
): Promise<GrpcMember> {
  const stateMachine = new RecordingStateMachine();
  const logger = new RecordingLogger();
  const driver = await createRaftDriver({
    nodeId,
    clusterId: CLUSTER_ID,
    voters,
    dataDir: directory,
    timeouts: TEST_TIMEOUTS,
    stateMachine,
    logger,
    ...(server === undefined ? {} : { grpcServer: server }),
    ...(addressOf === undefined ? {} : { transport: { addressOf } }),
  });
  const member = { driver, server, stateMachine, logger, directory };
  running.push(member);
  return member;
}

async function readyLeader(members: readonly GrpcMember[]): Promise<GrpcMember> {
  await waitFor('a ready leader', () => members.some((member) => member.driver.leader().isLocalLeader));
  return members.find((member) => member.driver.leader().isLocalLeader)!;
}

describe('Raft over gRPC', () => {
  it('elects, commits, fails over when the leader stops, and the old leader catches up on restart', async () => {
    // Shared-server mode: the test owns each node's server (as the node process does), bound first
    // so that the voter addresses can name the ephemeral ports.
    const servers = NODE_IDS.map(() => new grpc.Server());
    const ports = await Promise.all(servers.map(bindEphemeral));
    const voters = NODE_IDS.map((id) => ({ id, host: '127.0.0.1', port: 0 }));
    const addresses = new Map(NODE_IDS.map((id, index) => [id, `127.0.0.1:${ports[index]}`]));
    const addressOf = (voterId: number) => addresses.get(voterId);
    const members: GrpcMember[] = [];
    for (const [index, id] of NODE_IDS.entries()) {
      members.push(
        await startMember(
          id,
          voters,
          await directories.create(`raft-grpc-${id}-`),
          servers[index],
          addressOf,
        ),
      );
    }

    const first = await readyLeader(members);
    const firstBatch = Array.from({ length: 100 }, (_, index) => `first-${index}`);
    await Promise.all(firstBatch.map((text) => first.driver.propose(encode(text))));
    await waitFor('every node to apply the first batch', () =>
      members.every((member) => member.stateMachine.applied.length === firstBatch.length),
    );
    for (const member of members) expect(member.stateMachine.applied).toEqual(firstBatch);

    // The leader's process "stops": driver and server go.
    await stopMember(first);
    running.splice(running.indexOf(first), 1);
    const survivors = members.filter((member) => member !== first);
    const second = await readyLeader(survivors);
    expect(second.driver.status().epoch).toBeGreaterThan(first.driver.status().epoch);
    const secondBatch = Array.from({ length: 10 }, (_, index) => `second-${index}`);
    for (const text of secondBatch) await second.driver.propose(encode(text));

    // Back on the same directory and a new port, which the others learn through addressOf.
    const server = new grpc.Server();
    const port = await bindEphemeral(server);
    addresses.set(first.driver.nodeId, `127.0.0.1:${port}`);
    const restarted = await startMember(first.driver.nodeId, voters, first.directory, server, addressOf);
    const expected = [...firstBatch, ...secondBatch];
    await waitFor(
      'the old leader to catch up',
      () => restarted.stateMachine.applied.length === expected.length,
    );
    expect(restarted.stateMachine.applied).toEqual(expected);
    expect(second.stateMachine.applied).toEqual(expected);
  });

  it('refuses a message from another cluster with FAILED_PRECONDITION and logs the sender', async () => {
    const server = new grpc.Server();
    const port = await bindEphemeral(server);
    const voters = [
      { id: 1, host: '127.0.0.1', port },
      { id: 2, host: '127.0.0.1', port: 1 },
      { id: 3, host: '127.0.0.1', port: 1 },
    ];
    const member = await startMember(1, voters, await directories.create('raft-grpc-stranger-'), server);
    const stranger = new RaftGrpcTransport({ nodeId: 2, voters });
    try {
      stranger.send({
        type: 'fetch-request',
        clusterId: 'another-cluster',
        from: 2,
        to: 1,
        epoch: 5,
        fetchOffset: 0,
        lastFetchedEpoch: 0,
      });
      await waitFor('the refusal to reach the sender', () => (stranger.stats(1)?.failed ?? 0) === 1);
      const warning = member.logger.lines.find((line) => line.level === 'warn');
      expect(warning?.fields).toMatchObject({
        from: 2,
        reason: 'wrong-cluster',
        clusterId: 'another-cluster',
      });
      expect(member.driver.status().epoch).toBe(0);
    } finally {
      await stranger.close();
    }
  });
});
