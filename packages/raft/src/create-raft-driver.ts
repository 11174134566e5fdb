/**
 * Wiring for production: a RaftDriver over a LevelRaftStore in dataDir, gRPC to the other voters, and
 * the RaftQuorum service on the node's gRPC server (shared with its other services) or on a server of
 * its own bound to this node's voter address.
 */

import type { Clock, Random, TimerScheduler } from '@gregor/ground';
import * as grpc from '@grpc/grpc-js';
import type { RaftLimits, RaftTimeouts } from './core/config.js';
import type { QuorumVoter } from './core/voters.js';
import { RaftDriver, raftConfigFor, type SnapshotPolicy } from './driver/raft-driver.js';
import type { RaftLogger, RaftStateMachine } from './driver/types.js';
import { RaftGrpcTransport, type RaftGrpcTransportOptions } from './grpc/raft-grpc-transport.js';
import { registerRaftService, unregisterRaftService } from './grpc/raft-service.js';
import { LevelRaftStore } from './storage/level-raft-store.js';

/** How long an owned server lets in-flight calls finish on close before it cuts them. */
export const OWNED_SERVER_SHUTDOWN_GRACE_MS = 1_000;

export interface CreateRaftDriverOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  /** controller.quorum.voters, parsed with parseQuorumVoters; must include nodeId. */
  readonly voters: readonly QuorumVoter[];
  /** The LevelDB directory of this node's Raft log and quorum state (created if missing). */
  readonly dataDir: string;
  /** Defaults to KRaft's; FAST_FAILOVER_TIMEOUTS is what Gregor recommends. */
  readonly timeouts?: Partial<RaftTimeouts>;
  readonly limits?: Partial<RaftLimits>;
  readonly stateMachine: RaftStateMachine;
  readonly logger: RaftLogger;
  /**
   * The node's shared server: Raft registers its service on it (before or after bindAsync) and removes
   * it on close; binding and shutting the server down stay with the caller. Without it, the driver
   * binds a server of its own on this node's voter host:port and shuts it down on close.
   */
  readonly grpcServer?: grpc.Server;
  /** Credentials of the owned server (with `transport.credentials` for the clients); insecure when absent. */
  readonly serverCredentials?: grpc.ServerCredentials;
  readonly transport?: Omit<RaftGrpcTransportOptions, 'nodeId' | 'voters' | 'logger' | 'protoPath'>;
  /** Where proto/raft.proto is; found by walking up from this module when absent. */
  readonly protoPath?: string;
  readonly snapshotPolicy?: Partial<SnapshotPolicy>;
  readonly proposalTimeoutMsDefault?: number;
  readonly onFatalError?: (error: unknown) => void;
  readonly clock?: Clock;
  readonly timers?: TimerScheduler;
  readonly random?: Random;
}

export async function createRaftDriver(options: CreateRaftDriverOptions): Promise<RaftDriver> {
  const self = options.voters.find((voter) => voter.id === options.nodeId);
  if (self === undefined) throw new Error(`node ${options.nodeId} is not in controller.quorum.voters`);
  const config = raftConfigFor({
    nodeId: options.nodeId,
    clusterId: options.clusterId,
    voterIds: options.voters.map((voter) => voter.id),
    ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  const logger = options.logger;
  const server = options.grpcServer ?? new grpc.Server();
  const ownsServer = options.grpcServer === undefined;
  if (ownsServer) {
    const host = self.host.includes(':') ? `[${self.host}]` : self.host;
    await bindAsync(
      server,
      `${host}:${self.port}`,
      options.serverCredentials ?? grpc.ServerCredentials.createInsecure(),
    );
  }
  let store: LevelRaftStore;
  try {
    store = await LevelRaftStore.open(options.dataDir);
  } catch (error) {
    if (ownsServer) await shutdown(server);
    throw error;
  }
  const transport = new RaftGrpcTransport({
    sendDeadlineMs: config.requestTimeoutMs,
    ...options.transport,
    nodeId: options.nodeId,
    voters: options.voters,
    logger,
    ...(options.protoPath === undefined ? {} : { protoPath: options.protoPath }),
  });
  const release = async (): Promise<void> => {
    unregisterRaftService(server, options.protoPath);
    if (ownsServer) await shutdown(server);
  };
  let driver: RaftDriver;
  try {
    driver = await RaftDriver.start({
      config,
      store,
      transport,
      stateMachine: options.stateMachine,
      logger,
      releaseOnClose: [release],
      ...pick(options, [
        'snapshotPolicy',
        'proposalTimeoutMsDefault',
        'onFatalError',
        'clock',
        'timers',
        'random',
      ]),
    });
  } catch (error) {
    await transport.close();
    await store.close();
    if (ownsServer) await shutdown(server);
    throw error;
  }
  registerRaftService(server, (message) => driver.receive(message), {
    logger,
    ...(options.protoPath === undefined ? {} : { protoPath: options.protoPath }),
  });
  return driver;
}

function bindAsync(
  server: grpc.Server,
  address: string,
  credentials: grpc.ServerCredentials,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error === null ? resolve(port) : reject(error)));
  });
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, OWNED_SERVER_SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

function pick<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const result: Partial<Pick<T, K>> = {};
  for (const key of keys) if (object[key] !== undefined) result[key] = object[key];
  return result;
}
