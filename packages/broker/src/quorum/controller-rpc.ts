// The controller's RPCs (proto/controller.proto) as one dispatcher over the QuorumController.
// The same function serves gRPC calls from other nodes and calls from this node when it is the
// active controller itself, so there is one mapping between wire messages and controller methods.

import {
  type AclBinding,
  type AlterConfigOperation,
  brokerResourceType,
  type DelegationTokenState,
  type ElectionType,
  encodeMetadataBatch,
  imageToRecords,
  type MetadataImage,
} from '@gregor/metadata';
import { ErrorCode, errorName } from '@gregor/protocol';
import type { MetadataPublisher } from './metadata-publisher.js';
import type { ControllerCallResult, QuorumController } from './quorum-controller.js';

export interface ControllerStatus {
  errorCode: number;
  errorMessage: string;
  leaderId: number;
  committedOffset: number;
}

export interface Endpoint {
  name: string;
  host: string;
  port: number;
  securityProtocol: number;
}

export interface ReplicaAssignment {
  partitionIndex: number;
  brokerIds: number[];
}

export interface ConfigEntry {
  name: string;
  value: string;
  isNull: boolean;
}

// Request and response shapes, as @grpc/proto-loader presents them (camelCase, defaults filled).
export interface ControllerRpcs {
  RegisterBroker: {
    request: {
      clusterId: string;
      brokerId: number;
      incarnationId: string;
      listeners: Endpoint[];
      rack: string;
      hasRack: boolean;
    };
    response: { status: ControllerStatus; brokerEpoch: number };
  };
  BrokerHeartbeat: {
    request: {
      clusterId: string;
      brokerId: number;
      brokerEpoch: number;
      currentMetadataOffset: number;
      wantFence: boolean;
      wantShutDown: boolean;
      offlineLogDirs: string[];
      offlineReplicas: { topicId: string; partitionIndex: number }[];
    };
    response: { status: ControllerStatus; isCaughtUp: boolean; isFenced: boolean; shouldShutDown: boolean };
  };
  CreateTopics: {
    request: {
      clusterId: string;
      topics: {
        name: string;
        numPartitions: number;
        replicationFactor: number;
        configs: ConfigEntry[];
        assignments: ReplicaAssignment[];
      }[];
      validateOnly: boolean;
    };
    response: {
      status: ControllerStatus;
      topics: {
        name: string;
        errorCode: number;
        errorMessage: string;
        topicId: string;
        numPartitions: number;
        replicationFactor: number;
        configs: ConfigEntry[];
      }[];
    };
  };
  DeleteTopics: {
    request: { clusterId: string; names: string[]; topicIds: string[] };
    response: {
      status: ControllerStatus;
      topics: { name: string; topicId: string; errorCode: number; errorMessage: string }[];
    };
  };
  CreatePartitions: {
    request: {
      clusterId: string;
      topics: { name: string; count: number; assignments: ReplicaAssignment[]; hasAssignments: boolean }[];
      validateOnly: boolean;
    };
    response: {
      status: ControllerStatus;
      topics: { name: string; errorCode: number; errorMessage: string }[];
    };
  };
  IncrementalAlterConfigs: {
    request: {
      clusterId: string;
      topics: {
        topicName: string;
        operations: { name: string; operation: string; value: string }[];
        /** 4 (BROKER) for dynamic broker configs; 0 or 2 for a topic. */
        resourceType: number;
      }[];
      validateOnly: boolean;
    };
    response: {
      status: ControllerStatus;
      topics: { topicName: string; errorCode: number; errorMessage: string }[];
    };
  };
  AlterPartition: {
    request: {
      clusterId: string;
      brokerId: number;
      brokerEpoch: number;
      topicId: string;
      partitionIndex: number;
      leaderEpoch: number;
      partitionEpoch: number;
      newIsr: number[];
    };
    response: {
      status: ControllerStatus;
      partitionErrorCode: number;
      leaderId: number;
      leaderEpoch: number;
      isr: number[];
      partitionEpoch: number;
    };
  };
  AllocateProducerIds: {
    request: { clusterId: string; brokerId: number; brokerEpoch: number };
    response: { status: ControllerStatus; firstProducerId: number; producerIdCount: number };
  };
  AlterUserScramCredentials: {
    request: {
      clusterId: string;
      deletions: { name: string; mechanism: number }[];
      upsertions: {
        name: string;
        mechanism: number;
        iterations: number;
        salt: Buffer;
        storedKey: Buffer;
        serverKey: Buffer;
      }[];
    };
    response: {
      status: ControllerStatus;
      results: { user: string; errorCode: number; errorMessage: string }[];
    };
  };
  CreateDelegationToken: {
    request: {
      clusterId: string;
      tokenId: string;
      owner: string;
      requester: string;
      renewers: string[];
      maxLifetimeMs: number;
    };
    response: { status: ControllerStatus; token: DelegationTokenState | null };
  };
  RenewDelegationToken: {
    request: { clusterId: string; tokenId: string; requester: string; renewPeriodMs: number };
    response: { status: ControllerStatus; expiryTimestampMs: number };
  };
  ExpireDelegationToken: {
    request: { clusterId: string; tokenId: string; requester: string; expiryTimePeriodMs: number };
    response: { status: ControllerStatus; expiryTimestampMs: number };
  };
  CreateAcls: {
    request: { clusterId: string; creations: AclBinding[] };
    response: {
      status: ControllerStatus;
      results: { errorCode: number; errorMessage: string; deleted: AclBinding[] }[];
    };
  };
  DeleteAcls: {
    request: {
      clusterId: string;
      filters: {
        resourceType: number;
        resourceName: string;
        hasResourceName: boolean;
        patternType: number;
        principal: string;
        hasPrincipal: boolean;
        host: string;
        hasHost: boolean;
        operation: number;
        permissionType: number;
      }[];
    };
    response: {
      status: ControllerStatus;
      results: { errorCode: number; errorMessage: string; deleted: AclBinding[] }[];
    };
  };
  ElectLeaders: {
    request: {
      clusterId: string;
      electionType: number;
      allPartitions: boolean;
      partitions: { topicName: string; partitionIndex: number }[];
    };
    response: {
      status: ControllerStatus;
      results: { topicName: string; partitionIndex: number; errorCode: number; errorMessage: string }[];
    };
  };
  AlterPartitionReassignments: {
    request: {
      clusterId: string;
      partitions: { topicName: string; partitionIndex: number; replicas: number[]; hasReplicas: boolean }[];
      allowReplicationFactorChange: boolean;
    };
    response: {
      status: ControllerStatus;
      results: { topicName: string; partitionIndex: number; errorCode: number; errorMessage: string }[];
    };
  };
  DescribeQuorum: {
    request: { clusterId: string };
    response: {
      status: ControllerStatus;
      leaderId: number;
      leaderEpoch: number;
      highWatermark: number;
      voters: QuorumVoterState[];
    };
  };
  UnregisterBroker: {
    request: { clusterId: string; brokerId: number };
    response: { status: ControllerStatus };
  };
  MetadataBarrier: {
    request: { clusterId: string; topic: string };
    response: {
      status: ControllerStatus;
      partitions: { partitionIndex: number; leaderId: number; leaderEpoch: number }[];
    };
  };
  UpdateFeatures: {
    request: {
      clusterId: string;
      updates: { feature: string; maxVersionLevel: number; upgradeType: number }[];
      validateOnly: boolean;
    };
    response: { status: ControllerStatus };
  };
  AlterClientQuotas: {
    request: {
      clusterId: string;
      entries: {
        entity: { entityType: string; entityName: string; hasEntityName: boolean }[];
        ops: { key: string; value: number; remove: boolean }[];
      }[];
      validateOnly: boolean;
    };
    response: {
      status: ControllerStatus;
      results: { errorCode: number; errorMessage: string }[];
    };
  };
  DescribeMetadata: {
    request: { clusterId: string };
    response: {
      status: ControllerStatus;
      imageSnapshot: Buffer;
      metadataOffset: number;
      controllerId: number;
      clusterId: string;
    };
  };
}

/** One voter as the quorum leader knows it (Kafka's DescribeQuorum ReplicaState). */
export interface QuorumVoterState {
  replicaId: number;
  logEndOffset: number;
  /** Wall-clock ms; -1 when unknown. */
  lastFetchTimestamp: number;
  lastCaughtUpTimestamp: number;
}

/** The metadata quorum as this node's Raft sees it while it leads, in wall-clock times. */
export interface QuorumView {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly highWatermark: number;
  readonly voters: readonly QuorumVoterState[];
}

/** Kafka's ElectionType values on the wire. */
const electionTypes: readonly ElectionType[] = ['preferred', 'unclean'];

export type ControllerRpcName = keyof ControllerRpcs;
export type RpcRequest<M extends ControllerRpcName> = ControllerRpcs[M]['request'];
export type RpcResponse<M extends ControllerRpcName> = ControllerRpcs[M]['response'];

function status(
  errorCode: number,
  errorMessage: string,
  leaderId: number,
  committedOffset = -1,
): ControllerStatus {
  return { errorCode, errorMessage, leaderId, committedOffset };
}

const ok = (leaderId: number, committedOffset: number): ControllerStatus =>
  status(ErrorCode.NONE, '', leaderId, committedOffset);

function failed(result: ControllerCallResult<unknown> & { ok: false }): ControllerStatus {
  return status(result.errorCode, result.message || errorName(result.errorCode), result.leaderId);
}

export class ControllerRpcDispatcher {
  constructor(
    private readonly nodeId: number,
    private readonly clusterId: string,
    private readonly controller: QuorumController,
    private readonly publisher: MetadataPublisher,
    /** controller.quorum.voters: every Gregor node is a voter, so only these may register as brokers. */
    private readonly voterIds: readonly number[],
    /** Admin changes the controller commits are logged here, one line each. */
    private readonly changeLog: { info(fields: object, message: string): void } = { info: () => {} },
    /** The quorum while this node's Raft leads it, else undefined (DescribeQuorum). */
    private readonly quorumView: () => QuorumView | undefined = () => undefined,
  ) {}

  async dispatch<M extends ControllerRpcName>(method: M, request: RpcRequest<M>): Promise<RpcResponse<M>> {
    const handler = this.handlers[method] as (request: RpcRequest<M>) => Promise<RpcResponse<M>>;
    // DescribeMetadata only reads, and its caller (the metadata shell pointed at a voter address)
    // learns the cluster id from the answer, so an empty id is let through for it alone.
    const anonymousRead = method === 'DescribeMetadata' && request.clusterId === '';
    if (request.clusterId !== this.clusterId && !anonymousRead) {
      // A node from another cluster: refuse before touching the controller.
      const refused = status(
        ErrorCode.INCONSISTENT_CLUSTER_ID,
        `cluster id ${request.clusterId} is not ${this.clusterId}`,
        -1,
      );
      return { ...(emptyResponses[method] as RpcResponse<M>), status: refused };
    }
    return handler(request);
  }

  private readonly handlers: {
    [M in ControllerRpcName]: (request: RpcRequest<M>) => Promise<RpcResponse<M>>;
  } = {
    RegisterBroker: async (request) => {
      if (!this.voterIds.includes(request.brokerId)) {
        // A broker-only node is refused at start-up (Gregor's Raft has no observers), so a
        // registration from outside the voters is a misconfigured or foreign process: it must not
        // enter the metadata, where the controller would place replicas on it.
        const refused = status(
          ErrorCode.INVALID_REQUEST,
          `broker ${request.brokerId} is not in controller.quorum.voters (${this.voterIds.join(',')})`,
          -1,
        );
        return { status: refused, brokerEpoch: -1 };
      }
      const result = await this.controller.call((controller, context) =>
        controller.registerBroker(
          {
            brokerId: request.brokerId,
            clusterId: request.clusterId,
            incarnationId: request.incarnationId,
            listeners: request.listeners.map((endpoint) => ({
              name: endpoint.name,
              host: endpoint.host,
              port: endpoint.port,
              securityProtocol: endpoint.securityProtocol,
            })),
            rack: request.hasRack ? request.rack : null,
          },
          context.nowMs,
          context.metadataLogEndOffset,
        ),
      );
      if (!result.ok) return { status: failed(result), brokerEpoch: -1 };
      return { status: ok(this.nodeId, result.committedOffset), brokerEpoch: result.response.brokerEpoch };
    },

    BrokerHeartbeat: async (request) => {
      // At once, not behind a slow commit: a broker whose heartbeats go unanswered for a session
      // stops leading (its leader lease, node/broker-lease.ts).
      const result = await this.controller.callAtOnce((controller, context) =>
        controller.brokerHeartbeat(
          {
            brokerId: request.brokerId,
            brokerEpoch: request.brokerEpoch,
            currentMetadataOffset: request.currentMetadataOffset,
            wantFence: request.wantFence,
            wantShutDown: request.wantShutDown,
            offlineLogDirs: request.offlineLogDirs,
            offlineReplicas: request.offlineReplicas,
          },
          context.nowMs,
          context.metadataLogEndOffset,
        ),
      );
      if (!result.ok)
        return { status: failed(result), isCaughtUp: false, isFenced: true, shouldShutDown: false };
      return { status: ok(this.nodeId, result.committedOffset), ...result.response };
    },

    CreateTopics: async (request) => {
      const topics: RpcResponse<'CreateTopics'>['topics'] = [];
      let committedOffset = -1;
      // One controller operation per topic: a bad topic does not fail its neighbours (as Kafka answers).
      for (const topic of request.topics) {
        const result = await this.controller.call((controller) =>
          controller.createTopic(
            {
              name: topic.name,
              numPartitions: topic.numPartitions,
              replicationFactor: topic.replicationFactor,
              configs: topic.configs.map((entry) => ({ name: entry.name, value: entry.value })),
              assignments: topic.assignments.map((assignment) => ({
                partitionIndex: assignment.partitionIndex,
                brokerIds: assignment.brokerIds,
              })),
            },
            { validateOnly: request.validateOnly },
          ),
        );
        if (!result.ok) {
          if (isRedirect(result)) return { status: failed(result), topics: [] };
          topics.push(topicFailure(topic.name, result));
          continue;
        }
        committedOffset = Math.max(committedOffset, result.committedOffset);
        if (!request.validateOnly) {
          this.changeLog.info(
            {
              topic: topic.name,
              topicId: result.response.topicId,
              partitions: result.response.numPartitions,
              replicationFactor: result.response.replicationFactor,
            },
            'topic created',
          );
        }
        topics.push({
          name: topic.name,
          errorCode: ErrorCode.NONE,
          errorMessage: '',
          topicId: result.response.topicId,
          numPartitions: result.response.numPartitions,
          replicationFactor: result.response.replicationFactor,
          configs: result.response.configs.map((entry) => ({
            name: entry.name,
            value: entry.value,
            isNull: false,
          })),
        });
      }
      return { status: ok(this.nodeId, committedOffset), topics };
    },

    DeleteTopics: async (request) => {
      const topics: RpcResponse<'DeleteTopics'>['topics'] = [];
      let committedOffset = -1;
      const selectors = [
        ...request.names.map((name) => ({ name })),
        ...request.topicIds.map((topicId) => ({ topicId })),
      ];
      for (const selector of selectors) {
        const result = await this.controller.call((controller) => controller.deleteTopic(selector));
        const name = 'name' in selector ? selector.name : '';
        const topicId = 'topicId' in selector ? selector.topicId : '';
        if (!result.ok) {
          if (isRedirect(result)) return { status: failed(result), topics: [] };
          topics.push({ name, topicId, errorCode: result.errorCode, errorMessage: result.message });
          continue;
        }
        committedOffset = Math.max(committedOffset, result.committedOffset);
        this.changeLog.info(
          { topic: result.response.name, topicId: result.response.topicId },
          'topic deleted',
        );
        topics.push({
          name: result.response.name,
          topicId: result.response.topicId,
          errorCode: 0,
          errorMessage: '',
        });
      }
      return { status: ok(this.nodeId, committedOffset), topics };
    },

    CreatePartitions: async (request) => {
      const topics: RpcResponse<'CreatePartitions'>['topics'] = [];
      let committedOffset = -1;
      for (const topic of request.topics) {
        const result = await this.controller.call((controller) =>
          controller.createPartitions(
            {
              name: topic.name,
              count: topic.count,
              assignments: topic.hasAssignments
                ? topic.assignments.map((assignment) => assignment.brokerIds)
                : null,
            },
            { validateOnly: request.validateOnly },
          ),
        );
        if (!result.ok) {
          if (isRedirect(result)) return { status: failed(result), topics: [] };
          topics.push({ name: topic.name, errorCode: result.errorCode, errorMessage: result.message });
          continue;
        }
        committedOffset = Math.max(committedOffset, result.committedOffset);
        topics.push({ name: topic.name, errorCode: 0, errorMessage: '' });
      }
      return { status: ok(this.nodeId, committedOffset), topics };
    },

    AlterUserScramCredentials: async (request) => {
      const result = await this.controller.call((controller) =>
        controller.alterUserScramCredentials({
          deletions: request.deletions,
          upsertions: request.upsertions,
        }),
      );
      if (!result.ok) {
        if (isRedirect(result)) return { status: failed(result), results: [] };
        return { status: status(result.errorCode, result.message, this.nodeId), results: [] };
      }
      for (const user of result.response.results) {
        if (user.errorCode === ErrorCode.NONE)
          this.changeLog.info({ user: user.user }, 'SCRAM credentials altered');
      }
      return {
        status: ok(this.nodeId, result.committedOffset),
        results: result.response.results.map((user) => ({
          user: user.user,
          errorCode: user.errorCode,
          errorMessage: user.errorMessage ?? '',
        })),
      };
    },

    CreateDelegationToken: async (request) => {
      const result = await this.controller.call((controller, context) =>
        controller.createDelegationToken(
          {
            tokenId: request.tokenId,
            owner: request.owner,
            requester: request.requester,
            renewers: request.renewers,
            maxLifetimeMs: request.maxLifetimeMs,
          },
          context.nowMs,
        ),
      );
      if (!result.ok) {
        if (isRedirect(result)) return { status: failed(result), token: null };
        return { status: status(result.errorCode, result.message, this.nodeId), token: null };
      }
      this.changeLog.info(
        { tokenId: request.tokenId, owner: request.owner, requester: request.requester },
        'delegation token created',
      );
      return { status: ok(this.nodeId, result.committedOffset), token: result.response.token };
    },

    RenewDelegationToken: async (request) => {
      const result = await this.controller.call((controller, context) =>
        controller.renewDelegationToken(
          { tokenId: request.tokenId, requester: request.requester, renewPeriodMs: request.renewPeriodMs },
          context.nowMs,
        ),
      );
      if (!result.ok) {
        if (isRedirect(result)) return { status: failed(result), expiryTimestampMs: -1 };
        return { status: status(result.errorCode, result.message, this.nodeId), expiryTimestampMs: -1 };
      }
      return {
        status: ok(this.nodeId, result.committedOffset),
        expiryTimestampMs: result.response.expiryTimestampMs,
      };
    },

    ExpireDelegationToken: async (request) => {
      const result = await this.controller.call((controller, context) =>
        controller.expireDelegationToken(
          {
            tokenId: request.tokenId,
            requester: request.requester,
            expiryTimePeriodMs: request.expiryTimePeriodMs,
          },
          context.nowMs,
        ),
      );
      if (!result.ok) {
        if (isRedirect(result)) return { status: failed(result), expiryTimestampMs: -1 };
        return { status: status(result.errorCode, result.message, this.nodeId), expiryTimestampMs: -1 };
      }
      this.changeLog.info(
        { tokenId: request.tokenId, expiryTimestampMs: result.response.expiryTimestampMs },
        'delegation token expiry set',
      );
      return {
        status: ok(this.nodeId, result.committedOffset),
        expiryTimestampMs: result.response.expiryTimestampMs,
      };
    },

    CreateAcls: async (request) => {
      const result = await this.controller.call((controller) => controller.createAcls(request.creations));
      if (!result.ok) {
        if (isRedirect(result)) return { status: failed(result), results: [] };
        return { status: status(result.errorCode, result.message, this.nodeId), results: [] };
      }
      request.creations.forEach((binding, index) => {
        if (result.response.results[index]?.errorCode === ErrorCode.NONE) {
          this.changeLog.info({ acl: binding }, 'ACL created');
        }
      });
      return {
        status: ok(this.nodeId, result.committedOffset),
        results: result.response.results.map((one) => ({
          errorCode: one.errorCode,
          errorMessage: one.errorMessage ?? '',
          deleted: [],
        })),
      };
    },

    DeleteAcls: async (request) => {
      const filters = request.filters.map((filter) => ({
        resourceType: filter.resourceType,
        resourceName: filter.hasResourceName ? filter.resourceName : null,
        patternType: filter.patternType,
        principal: filter.hasPrincipal ? filter.principal : null,
        host: filter.hasHost ? filter.host : null,
        operation: filter.operation,
        permissionType: filter.permissionType,
      }));
      const result = await this.controller.call((controller) => controller.deleteAcls(filters));
      if (!result.ok) {
        if (isRedirect(result)) return { status: failed(result), results: [] };
        return { status: status(result.errorCode, result.message, this.nodeId), results: [] };
      }
      for (const one of result.response.results) {
        for (const binding of one.deleted) this.changeLog.info({ acl: binding }, 'ACL deleted');
      }
      return {
        status: ok(this.nodeId, result.committedOffset),
        results: result.response.results.map((one) => ({
          errorCode: one.errorCode,
          errorMessage: one.errorMessage ?? '',
          deleted: [...one.deleted],
        })),
      };
    },

    UnregisterBroker: async (request) => {
      const result = await this.controller.call((controller) =>
        controller.unregisterBroker(request.brokerId),
      );
      if (!result.ok) {
        if (isRedirect(result)) return { status: failed(result) };
        return { status: status(result.errorCode, result.message, this.nodeId) };
      }
      this.changeLog.info({ brokerId: request.brokerId }, 'broker unregistered');
      return { status: ok(this.nodeId, result.committedOffset) };
    },

    UpdateFeatures: async (request) => {
      const updates = request.updates.map((update) => ({ ...update }));
      const result = await this.controller.call((controller) =>
        controller.updateFeatures({ updates, validateOnly: request.validateOnly }),
      );
      if (!result.ok) {
        if (isRedirect(result)) return { status: failed(result) };
        return { status: status(result.errorCode, result.message, this.nodeId) };
      }
      if (!request.validateOnly && result.response.changed.size > 0) {
        this.changeLog.info({ features: Object.fromEntries(result.response.changed) }, 'features finalized');
      }
      return { status: ok(this.nodeId, result.committedOffset) };
    },

    AlterClientQuotas: async (request) => {
      const entries = request.entries.map((entry) => ({
        entity: entry.entity.map((component) => ({
          entityType: component.entityType,
          entityName: component.hasEntityName ? component.entityName : null,
        })),
        ops: entry.ops.map((op) => ({ key: op.key, value: op.remove ? null : op.value })),
      }));
      const result = await this.controller.call((controller) =>
        controller.alterClientQuotas({ entries, validateOnly: request.validateOnly }),
      );
      if (!result.ok) {
        if (isRedirect(result)) return { status: failed(result), results: [] };
        return { status: status(result.errorCode, result.message, this.nodeId), results: [] };
      }
      if (!request.validateOnly) {
        entries.forEach((entry, index) => {
          if (result.response.results[index]?.errorCode === ErrorCode.NONE)
            this.changeLog.info({ entity: entry.entity, ops: entry.ops }, 'client quotas altered');
        });
      }
      return {
        status: ok(this.nodeId, result.committedOffset),
        results: result.response.results.map((one) => ({
          errorCode: one.errorCode,
          errorMessage: one.errorMessage ?? '',
        })),
      };
    },

    IncrementalAlterConfigs: async (request) => {
      const topics: RpcResponse<'IncrementalAlterConfigs'>['topics'] = [];
      let committedOffset = -1;
      for (const topic of request.topics) {
        const operations: AlterConfigOperation[] = [];
        for (const op of topic.operations) {
          const operation = alterConfigOperations.find((known) => known === op.operation);
          if (operation === undefined) break;
          operations.push({ name: op.name, operation, value: operation === 'delete' ? null : op.value });
        }
        if (operations.length !== topic.operations.length) {
          topics.push({
            topicName: topic.topicName,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `unknown config operation; expected one of ${alterConfigOperations.join(', ')}`,
          });
          continue;
        }
        const result = await this.controller.call((controller) =>
          controller.incrementalAlterTopicConfigs(
            {
              topicName: topic.topicName,
              operations,
              ...(topic.resourceType === brokerResourceType ? { resourceType: brokerResourceType } : {}),
            },
            { validateOnly: request.validateOnly },
          ),
        );
        if (!result.ok) {
          if (isRedirect(result)) return { status: failed(result), topics: [] };
          topics.push({
            topicName: topic.topicName,
            errorCode: result.errorCode,
            errorMessage: result.message,
          });
          continue;
        }
        committedOffset = Math.max(committedOffset, result.committedOffset);
        topics.push({ topicName: topic.topicName, errorCode: 0, errorMessage: '' });
      }
      return { status: ok(this.nodeId, committedOffset), topics };
    },

    AlterPartition: async (request) => {
      const result = await this.controller.call((controller) =>
        controller.alterPartition({
          brokerId: request.brokerId,
          brokerEpoch: request.brokerEpoch,
          topicId: request.topicId,
          partitionIndex: request.partitionIndex,
          leaderEpoch: request.leaderEpoch,
          partitionEpoch: request.partitionEpoch,
          newIsr: request.newIsr,
        }),
      );
      const empty = { leaderId: -1, leaderEpoch: -1, isr: [], partitionEpoch: -1 };
      if (!result.ok) {
        if (isRedirect(result))
          return { status: failed(result), partitionErrorCode: ErrorCode.NONE, ...empty };
        return { status: ok(this.nodeId, -1), partitionErrorCode: result.errorCode, ...empty };
      }
      return {
        status: ok(this.nodeId, result.committedOffset),
        partitionErrorCode: ErrorCode.NONE,
        leaderId: result.response.leader,
        leaderEpoch: result.response.leaderEpoch,
        isr: [...result.response.isr],
        partitionEpoch: result.response.partitionEpoch,
      };
    },

    AllocateProducerIds: async (request) => {
      const result = await this.controller.call((controller) =>
        controller.allocateProducerIds({ brokerId: request.brokerId, brokerEpoch: request.brokerEpoch }),
      );
      if (!result.ok) return { status: failed(result), firstProducerId: -1, producerIdCount: 0 };
      return { status: ok(this.nodeId, result.committedOffset), ...result.response };
    },

    ElectLeaders: async (request) => {
      const electionType = electionTypes[request.electionType];
      if (electionType === undefined) {
        const refused = status(
          ErrorCode.INVALID_REQUEST,
          `unknown election type ${request.electionType}`,
          -1,
        );
        return { status: refused, results: [] };
      }
      const partitions = request.allPartitions
        ? null
        : request.partitions.map((partition) => ({
            topicName: partition.topicName,
            partitionIndex: partition.partitionIndex,
          }));
      const result = await this.controller.call((controller) =>
        controller.electLeaders(electionType, partitions),
      );
      if (!result.ok) return { status: failed(result), results: [] };
      for (const elected of result.response) {
        if (elected.errorCode === ErrorCode.NONE)
          this.changeLog.info(
            { topic: elected.topicName, partition: elected.partitionIndex, electionType },
            'leader elected',
          );
      }
      return {
        status: ok(this.nodeId, result.committedOffset),
        results: result.response.map((elected) => ({
          topicName: elected.topicName,
          partitionIndex: elected.partitionIndex,
          errorCode: elected.errorCode,
          errorMessage: elected.errorCode === ErrorCode.NONE ? '' : errorName(elected.errorCode),
        })),
      };
    },

    AlterPartitionReassignments: async (request) => {
      // Kafka's request groups partitions by topic; the controller takes them in that order.
      const topics: { name: string; partitions: { partitionIndex: number; replicas: number[] | null }[] }[] =
        [];
      for (const partition of request.partitions) {
        let topic = topics.at(-1);
        if (topic?.name !== partition.topicName) {
          topic = { name: partition.topicName, partitions: [] };
          topics.push(topic);
        }
        topic.partitions.push({
          partitionIndex: partition.partitionIndex,
          replicas: partition.hasReplicas ? partition.replicas : null,
        });
      }
      const result = await this.controller.call((controller) =>
        controller.alterPartitionReassignments({
          topics,
          allowReplicationFactorChange: request.allowReplicationFactorChange,
        }),
      );
      if (!result.ok) return { status: failed(result), results: [] };
      for (const [index, reassigned] of result.response.entries()) {
        if (reassigned.errorCode !== ErrorCode.NONE) continue;
        const replicas = request.partitions[index]!;
        this.changeLog.info(
          {
            topic: reassigned.topicName,
            partition: reassigned.partitionIndex,
            replicas: replicas.hasReplicas ? replicas.replicas : null,
          },
          replicas.hasReplicas ? 'partition reassignment started' : 'partition reassignment cancelled',
        );
      }
      return {
        status: ok(this.nodeId, result.committedOffset),
        results: result.response.map((reassigned) => ({
          topicName: reassigned.topicName,
          partitionIndex: reassigned.partitionIndex,
          errorCode: reassigned.errorCode,
          errorMessage: reassigned.errorMessage ?? '',
        })),
      };
    },

    // Only the active controller answers: it is the Raft leader and has applied everything an
    // earlier leader committed, so its image holds every committed leadership (and the ones it
    // proposed since: a read refused for a move that is then lost is only retried). A node that is
    // not the controller, or not yet, sends the caller on. Nothing is written.
    MetadataBarrier: async (request) => {
      const result = await this.controller.callAtOnce((controller) => ({
        records: [],
        response: (controller.image.topic(request.topic)?.partitions ?? []).map(
          (partition, partitionIndex) => ({
            partitionIndex,
            leaderId: partition.leader,
            leaderEpoch: partition.leaderEpoch,
          }),
        ),
      }));
      if (!result.ok) return { status: failed(result), partitions: [] };
      return { status: ok(this.nodeId, -1), partitions: result.response };
    },

    // Only the Raft leader knows every voter's log end; the others send the caller there.
    DescribeQuorum: async () => {
      const view = this.quorumView();
      if (view === undefined) {
        const leaderId = this.controller.knownLeaderId();
        return {
          ...emptyResponses.DescribeQuorum,
          status: status(ErrorCode.NOT_CONTROLLER, 'not the metadata quorum leader', leaderId),
        };
      }
      return { status: ok(this.nodeId, -1), ...view, voters: [...view.voters] };
    },

    // Served by any node from its own applied image: the metadata shell reads, it does not change.
    DescribeMetadata: async () => ({
      status: ok(this.controller.knownLeaderId(), this.publisher.appliedOffset),
      imageSnapshot: encodeImageRecords(this.publisher.image),
      metadataOffset: this.publisher.appliedOffset,
      controllerId: this.controller.knownLeaderId(),
      clusterId: this.clusterId,
    }),
  };
}

/**
 * The image's records as one batch; empty bytes for an empty image (a batch holds at least one
 * record). Without the cluster secret: the caller is a tool outside the cluster, maybe anonymous.
 */
function encodeImageRecords(image: MetadataImage): Buffer {
  const records = imageToRecords(image, { secrets: 'omit' });
  return records.length === 0 ? Buffer.alloc(0) : encodeMetadataBatch(records);
}

/** Errors that mean "ask another node", as opposed to an answer about the topic. */
export function isRedirect(result: { errorCode: number }): boolean {
  return (
    result.errorCode === ErrorCode.NOT_CONTROLLER || result.errorCode === ErrorCode.THROTTLING_QUOTA_EXCEEDED
  );
}

function topicFailure(
  name: string,
  result: { errorCode: number; message: string },
): RpcResponse<'CreateTopics'>['topics'][number] {
  return {
    name,
    errorCode: result.errorCode,
    errorMessage: result.message,
    topicId: '',
    numPartitions: -1,
    replicationFactor: -1,
    configs: [],
  };
}

const noStatus = status(ErrorCode.NONE, '', -1);

const alterConfigOperations: readonly AlterConfigOperation['operation'][] = [
  'set',
  'delete',
  'append',
  'subtract',
];
/** Every response with its fields empty, for refusals that never reach a handler. */
export const emptyResponses: { [M in ControllerRpcName]: RpcResponse<M> } = {
  RegisterBroker: { status: noStatus, brokerEpoch: -1 },
  BrokerHeartbeat: { status: noStatus, isCaughtUp: false, isFenced: true, shouldShutDown: false },
  CreateTopics: { status: noStatus, topics: [] },
  DeleteTopics: { status: noStatus, topics: [] },
  CreatePartitions: { status: noStatus, topics: [] },
  IncrementalAlterConfigs: { status: noStatus, topics: [] },
  AlterPartition: {
    status: noStatus,
    partitionErrorCode: 0,
    leaderId: -1,
    leaderEpoch: -1,
    isr: [],
    partitionEpoch: -1,
  },
  AllocateProducerIds: { status: noStatus, firstProducerId: -1, producerIdCount: 0 },
  AlterUserScramCredentials: { status: noStatus, results: [] },
  CreateDelegationToken: { status: noStatus, token: null },
  RenewDelegationToken: { status: noStatus, expiryTimestampMs: -1 },
  ExpireDelegationToken: { status: noStatus, expiryTimestampMs: -1 },
  CreateAcls: { status: noStatus, results: [] },
  DeleteAcls: { status: noStatus, results: [] },
  ElectLeaders: { status: noStatus, results: [] },
  AlterPartitionReassignments: { status: noStatus, results: [] },
  DescribeQuorum: { status: noStatus, leaderId: -1, leaderEpoch: -1, highWatermark: -1, voters: [] },
  AlterClientQuotas: { status: noStatus, results: [] },
  UnregisterBroker: { status: noStatus },
  MetadataBarrier: { status: noStatus, partitions: [] },
  UpdateFeatures: { status: noStatus },
  DescribeMetadata: {
    status: noStatus,
    imageSnapshot: Buffer.alloc(0),
    metadataOffset: -1,
    controllerId: -1,
    clusterId: '',
  },
};
