// The controller service over gRPC: the server side hosts the dispatcher on a node's internal gRPC
// server; the client finds the active controller (following NOT_CONTROLLER redirects) and calls it,
// going straight to the local dispatcher when this node is the controller.

import { ErrorCode } from '@gregor/protocol';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../logging.js';
import {
  type ControllerRpcDispatcher,
  type ControllerRpcName,
  emptyResponses,
  isRedirect,
  type RpcRequest,
  type RpcResponse,
} from '../quorum/controller-rpc.js';
import { internalChannelOptions, serviceClient } from './protos.js';

const protoFile = 'controller.proto';
const serviceName = 'gregor.controller.Controller';

const methodNames = [
  'RegisterBroker',
  'BrokerHeartbeat',
  'CreateTopics',
  'DeleteTopics',
  'CreatePartitions',
  'IncrementalAlterConfigs',
  'AlterPartition',
  'AllocateProducerIds',
  'AlterUserScramCredentials',
  'CreateDelegationToken',
  'RenewDelegationToken',
  'ExpireDelegationToken',
  'CreateAcls',
  'DeleteAcls',
  'AlterClientQuotas',
  'DescribeMetadata',
  'ElectLeaders',
  'AlterPartitionReassignments',
  'DescribeQuorum',
  'UnregisterBroker',
  'MetadataBarrier',
  'UpdateFeatures',
] as const satisfies readonly ControllerRpcName[];
// Every RPC of ControllerRpcs is served: one left out here would answer UNIMPLEMENTED over gRPC
// while working on the active controller's own node, which only a multi-node test would notice.
const everyRpcServed: [Exclude<ControllerRpcName, (typeof methodNames)[number]>] extends [never]
  ? true
  : never = true;
void everyRpcServed;

export function registerControllerService(
  server: grpc.Server,
  dispatcher: ControllerRpcDispatcher,
  logger: Logger,
): void {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of methodNames) {
    implementation[method] = (
      call: grpc.ServerUnaryCall<RpcRequest<typeof method>, RpcResponse<typeof method>>,
      callback: grpc.sendUnaryData<RpcResponse<typeof method>>,
    ) => {
      dispatcher.dispatch(method, call.request).then(
        (response) => callback(null, response),
        (error: unknown) => {
          logger.error({ err: error, method }, 'controller RPC failed');
          callback({ code: grpc.status.INTERNAL, details: String(error) });
        },
      );
    };
  }
  server.addService(serviceClient(protoFile, serviceName).service, implementation);
}

export interface ControllerClientOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly voterIds: readonly number[];
  /** A voter's current gRPC target (`host:port`); a client follows it when it changes. */
  readonly addressOf: (nodeId: number) => string | undefined;
  /** This node's dispatcher (every Gregor node is a voter, so it may be the controller). */
  readonly local: ControllerRpcDispatcher;
  /** The Raft leader this node knows of. */
  readonly knownLeaderId: () => number | undefined;
  /** How this node dials its peers' controller listeners (internal-credentials.ts). */
  readonly credentials: grpc.ChannelCredentials;
  readonly logger: Logger;
}

/** Longest single attempt; a call retries within its own deadline. */
const attemptTimeoutMsMax = 3_000;
const redirectBackoffMs = 50;

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => void;

export class ControllerClient {
  private readonly clients = new Map<number, { readonly target: string; readonly client: grpc.Client }>();
  private hintedLeaderId: number | undefined;
  private rotation = 0;
  private closed = false;

  constructor(private readonly options: ControllerClientOptions) {}

  /**
   * Calls the active controller, retrying redirects and transport failures until `timeoutMs`.
   * On timeout the response's status is REQUEST_TIMED_OUT.
   */
  async call<M extends ControllerRpcName>(
    method: M,
    request: Omit<RpcRequest<M>, 'clusterId'>,
    timeoutMs: number,
  ): Promise<RpcResponse<M>> {
    const fullRequest = { ...request, clusterId: this.options.clusterId } as RpcRequest<M>;
    const deadlineMs = Date.now() + timeoutMs;
    let lastError = 'no controller answered';
    while (!this.closed && Date.now() < deadlineMs) {
      const target = this.pickTarget();
      let response: RpcResponse<M>;
      try {
        response =
          target === this.options.nodeId
            ? await this.options.local.dispatch(method, fullRequest)
            : await this.remoteCall(
                target,
                method,
                fullRequest,
                Math.min(attemptTimeoutMsMax, deadlineMs - Date.now()),
              );
      } catch (error) {
        lastError = `node ${target}: ${(error as Error).message}`;
        this.hintedLeaderId = undefined;
        this.rotation++;
        await sleep(redirectBackoffMs);
        continue;
      }
      if (isRedirect(response.status)) {
        lastError = `node ${target}: ${response.status.errorMessage}`;
        const leaderId = response.status.leaderId;
        this.hintedLeaderId = leaderId >= 0 && leaderId !== target ? leaderId : undefined;
        if (this.hintedLeaderId === undefined) this.rotation++;
        await sleep(redirectBackoffMs);
        continue;
      }
      this.hintedLeaderId = target;
      return response;
    }
    const timedOut = { ...emptyResponses[method] } as RpcResponse<M>;
    timedOut.status = {
      errorCode: ErrorCode.REQUEST_TIMED_OUT,
      errorMessage: lastError,
      leaderId: -1,
      committedOffset: -1,
    };
    return timedOut;
  }

  private pickTarget(): number {
    if (this.hintedLeaderId !== undefined) return this.hintedLeaderId;
    const known = this.options.knownLeaderId();
    if (known !== undefined && known >= 0) return known;
    const voterIds = this.options.voterIds;
    return voterIds[this.rotation % voterIds.length]!;
  }

  private remoteCall<M extends ControllerRpcName>(
    target: number,
    method: M,
    request: RpcRequest<M>,
    timeoutMs: number,
  ): Promise<RpcResponse<M>> {
    const client = this.clientFor(target);
    const unary = (client as unknown as Record<string, UnaryMethod>)[method]!.bind(client);
    return new Promise((resolve, reject) => {
      unary(
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + Math.max(1, timeoutMs) },
        (error, response) => {
          if (error !== null) reject(error);
          else resolve(response as RpcResponse<M>);
        },
      );
    });
  }

  private clientFor(nodeId: number): grpc.Client {
    const target = this.options.addressOf(nodeId);
    if (target === undefined) throw new Error(`node ${nodeId} has no known address`);
    const existing = this.clients.get(nodeId);
    if (existing?.target === target) return existing.client;
    // A voter that restarted on a new port (it binds port 0): a channel to the new address.
    existing?.client.close();
    const Client = serviceClient(protoFile, serviceName);
    const client = new Client(target, this.options.credentials, internalChannelOptions);
    this.clients.set(nodeId, { target, client });
    return client;
  }

  close(): void {
    this.closed = true;
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
