// The production ControllerChannel: admin changes go to the active controller over the quorum's
// controller RPCs, and each answer waits until the committed change is applied to this broker's
// image, so the client's next request to this broker already sees it.

import {
  type AclBinding,
  type AclBindingFilter,
  type AlterClientQuotasRequest,
  type AlterClientQuotasResponse,
  type AlterPartitionReassignmentsRequest,
  type AlterUserScramCredentialsRequest,
  type AlterUserScramCredentialsResponse,
  type ControllerError,
  type CreateAclsResponse,
  type CreateDelegationTokenRequest,
  type CreateDelegationTokenResponse,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
  type CreateTopicRequest,
  type CreateTopicResponse,
  controllerError,
  type DelegationTokenExpiryResponse,
  type DeleteAclsResponse,
  type DeleteTopicResponse,
  type ElectionResult,
  type ElectionType,
  type ExpireDelegationTokenRequest,
  type IncrementalAlterConfigsResponse,
  type IncrementalAlterTopicConfigsRequest,
  type MetadataImage,
  type ReassignmentResult,
  type RenewDelegationTokenRequest,
  type TopicPartitionName,
  type TopicSelector,
  topicResourceType,
  type UpdateFeaturesRequest,
} from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import type {
  ControllerChannel,
  ControllerRequestOptions,
  ControllerResults,
  ValidatingRequestOptions,
} from '../apis/broker-context.js';
import type { ControllerClient } from '../grpc/controller-grpc.js';
import type {
  ControllerRpcName,
  ControllerStatus,
  RpcRequest,
  RpcResponse,
} from '../quorum/controller-rpc.js';

/** The metadata this broker has fully applied (image and replica manager). */
export interface AppliedMetadata {
  image(): MetadataImage;
  waitForOffset(offset: number, timeoutMs: number): Promise<boolean>;
}

/** An entry's message as the APIs answer it: null when it succeeded, whatever the RPC carried. */
function entryErrorMessage(entry: {
  readonly errorCode: number;
  readonly errorMessage: string;
}): string | null {
  return entry.errorCode === ErrorCode.NONE ? null : entry.errorMessage;
}

export class QuorumControllerChannel implements ControllerChannel {
  constructor(
    private readonly client: ControllerClient,
    private readonly publisher: AppliedMetadata,
  ) {}

  /** A whole-call failure repeated for every entry, or undefined once the change is applied here. */
  private async settle(
    status: ControllerStatus,
    count: number,
    timeoutMs: number,
  ): Promise<ControllerError[] | undefined> {
    if (status.errorCode !== ErrorCode.NONE) {
      return Array.from({ length: count }, () => controllerError(status.errorCode, status.errorMessage));
    }
    if (
      status.committedOffset >= 0 &&
      !(await this.publisher.waitForOffset(status.committedOffset, timeoutMs))
    ) {
      return Array.from({ length: count }, () =>
        controllerError(
          ErrorCode.REQUEST_TIMED_OUT,
          'the change committed but is not yet applied on this broker',
        ),
      );
    }
    return undefined;
  }

  /**
   * Calls the controller for one answer to the whole request: the call's failure, or `answer` of
   * its response once the change is applied here.
   */
  private async callOne<M extends ControllerRpcName, R>(
    method: M,
    request: Omit<RpcRequest<M>, 'clusterId'>,
    timeoutMs: number,
    answer: (response: RpcResponse<M>) => R,
  ): Promise<R | ControllerError> {
    const response: RpcResponse<M> = await this.client.call(method, request, timeoutMs);
    const failure = await this.settle(response.status, 1, timeoutMs);
    return failure === undefined ? answer(response) : failure[0]!;
  }

  /**
   * Calls the controller for `count` entries answered one by one: the call's failure once per entry,
   * or `answer` of its response once the change is applied here.
   */
  private async callEach<M extends ControllerRpcName, R>(
    method: M,
    request: Omit<RpcRequest<M>, 'clusterId'>,
    count: number,
    timeoutMs: number,
    answer: (response: RpcResponse<M>) => ControllerResults<R>,
  ): Promise<ControllerResults<R>> {
    const response: RpcResponse<M> = await this.client.call(method, request, timeoutMs);
    const failure = await this.settle(response.status, count, timeoutMs);
    return failure ?? answer(response);
  }

  async createTopics(
    requests: readonly CreateTopicRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<CreateTopicResponse>> {
    return this.callEach(
      'CreateTopics',
      {
        topics: requests.map((request) => ({
          name: request.name,
          numPartitions: request.numPartitions,
          replicationFactor: request.replicationFactor,
          configs: request.configs.map((entry) => ({ name: entry.name, value: entry.value, isNull: false })),
          assignments: (request.assignments ?? []).map((assignment) => ({
            partitionIndex: assignment.partitionIndex,
            brokerIds: [...assignment.brokerIds],
          })),
        })),
        validateOnly: options.validateOnly,
      },
      requests.length,
      options.timeoutMs,
      (response) =>
        response.topics.map((topic) =>
          topic.errorCode !== ErrorCode.NONE
            ? controllerError(topic.errorCode, topic.errorMessage)
            : {
                topicId: topic.topicId,
                numPartitions: topic.numPartitions,
                replicationFactor: topic.replicationFactor,
                configs: topic.configs.map((entry) => ({ name: entry.name, value: entry.value })),
              },
        ),
    );
  }

  async deleteTopics(
    selectors: readonly TopicSelector[],
    options: ControllerRequestOptions,
  ): Promise<ControllerResults<DeleteTopicResponse>> {
    // Names and ids travel in separate lists; answers come back names first, then ids.
    const names = selectors.flatMap((selector) => ('name' in selector ? [selector.name] : []));
    const topicIds = selectors.flatMap((selector) => ('topicId' in selector ? [selector.topicId] : []));
    return this.callEach(
      'DeleteTopics',
      { names, topicIds },
      selectors.length,
      options.timeoutMs,
      (response) => {
        const byName = response.topics.slice(0, names.length);
        const byId = response.topics.slice(names.length);
        let nameIndex = 0;
        let idIndex = 0;
        return selectors.map((selector) => {
          const topic = 'name' in selector ? byName[nameIndex++] : byId[idIndex++];
          if (topic === undefined)
            return controllerError(
              ErrorCode.UNKNOWN_SERVER_ERROR,
              'controller gave no answer for this topic',
            );
          return topic.errorCode !== ErrorCode.NONE
            ? controllerError(topic.errorCode, topic.errorMessage)
            : { name: topic.name, topicId: topic.topicId };
        });
      },
    );
  }

  async createPartitions(
    requests: readonly CreatePartitionsRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<CreatePartitionsResponse>> {
    return this.callEach(
      'CreatePartitions',
      {
        topics: requests.map((request) => ({
          name: request.name,
          count: request.count,
          assignments: (request.assignments ?? []).map((brokerIds, offset) => ({
            partitionIndex: offset,
            brokerIds: [...brokerIds],
          })),
          hasAssignments: request.assignments !== undefined && request.assignments !== null,
        })),
        validateOnly: options.validateOnly,
      },
      requests.length,
      options.timeoutMs,
      (response) =>
        response.topics.map((topic, index) =>
          topic.errorCode !== ErrorCode.NONE
            ? controllerError(topic.errorCode, topic.errorMessage)
            : {
                topicId: this.publisher.image().topic(topic.name)?.topicId ?? '',
                count: requests[index]?.count ?? -1,
              },
        ),
    );
  }

  async incrementalAlterConfigs(
    requests: readonly IncrementalAlterTopicConfigsRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<IncrementalAlterConfigsResponse>> {
    return this.callEach(
      'IncrementalAlterConfigs',
      {
        topics: requests.map((request) => ({
          topicName: request.topicName,
          resourceType: request.resourceType ?? topicResourceType,
          operations: request.operations.map((op) => ({
            name: op.name,
            operation: op.operation,
            value: op.value ?? '',
          })),
        })),
        validateOnly: options.validateOnly,
      },
      requests.length,
      options.timeoutMs,
      (response) =>
        response.topics.map((topic) =>
          topic.errorCode !== ErrorCode.NONE
            ? controllerError(topic.errorCode, topic.errorMessage)
            : { uncleanLeaderElectionCount: 0 },
        ),
    );
  }

  async createDelegationToken(
    request: CreateDelegationTokenRequest,
    options: ControllerRequestOptions,
  ): Promise<CreateDelegationTokenResponse | ControllerError> {
    return this.callOne(
      'CreateDelegationToken',
      { ...request, renewers: [...request.renewers] },
      options.timeoutMs,
      (response) => {
        if (response.token === null)
          return controllerError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the controller answered without the token');
        return { token: response.token };
      },
    );
  }

  async renewDelegationToken(
    request: RenewDelegationTokenRequest,
    options: ControllerRequestOptions,
  ): Promise<DelegationTokenExpiryResponse | ControllerError> {
    return this.changeTokenExpiry('RenewDelegationToken', { ...request }, options);
  }

  async expireDelegationToken(
    request: ExpireDelegationTokenRequest,
    options: ControllerRequestOptions,
  ): Promise<DelegationTokenExpiryResponse | ControllerError> {
    return this.changeTokenExpiry('ExpireDelegationToken', { ...request }, options);
  }

  /** Renew and expire both move a token's expiry and answer the new one. */
  private changeTokenExpiry<M extends 'RenewDelegationToken' | 'ExpireDelegationToken'>(
    method: M,
    request: Omit<RpcRequest<M>, 'clusterId'>,
    options: ControllerRequestOptions,
  ): Promise<DelegationTokenExpiryResponse | ControllerError> {
    return this.callOne(method, request, options.timeoutMs, (response) => ({
      expiryTimestampMs: response.expiryTimestampMs,
    }));
  }

  async alterUserScramCredentials(
    request: AlterUserScramCredentialsRequest,
    options: ControllerRequestOptions,
  ): Promise<AlterUserScramCredentialsResponse | ControllerError> {
    return this.callOne(
      'AlterUserScramCredentials',
      { deletions: [...request.deletions], upsertions: [...request.upsertions] },
      options.timeoutMs,
      (response) => ({
        results: response.results.map((result) => ({
          user: result.user,
          errorCode: result.errorCode,
          errorMessage: entryErrorMessage(result),
        })),
      }),
    );
  }

  async createAcls(
    bindings: readonly AclBinding[],
    options: ControllerRequestOptions,
  ): Promise<CreateAclsResponse | ControllerError> {
    return this.callOne('CreateAcls', { creations: [...bindings] }, options.timeoutMs, (response) => ({
      results: response.results.map((result) => ({
        errorCode: result.errorCode,
        errorMessage: entryErrorMessage(result),
      })),
    }));
  }

  async unregisterBroker(
    brokerId: number,
    options: ControllerRequestOptions,
  ): Promise<Record<string, never> | ControllerError> {
    return this.callOne('UnregisterBroker', { brokerId }, options.timeoutMs, () => ({}));
  }

  async updateFeatures(
    request: UpdateFeaturesRequest,
    options: ControllerRequestOptions,
  ): Promise<Record<string, never> | ControllerError> {
    return this.callOne(
      'UpdateFeatures',
      { updates: request.updates.map((update) => ({ ...update })), validateOnly: request.validateOnly },
      options.timeoutMs,
      () => ({}),
    );
  }

  async alterClientQuotas(
    request: AlterClientQuotasRequest,
    options: ControllerRequestOptions,
  ): Promise<AlterClientQuotasResponse | ControllerError> {
    return this.callOne(
      'AlterClientQuotas',
      {
        entries: request.entries.map((entry) => ({
          entity: entry.entity.map((component) => ({
            entityType: component.entityType,
            entityName: component.entityName ?? '',
            hasEntityName: component.entityName !== null,
          })),
          ops: entry.ops.map((op) => ({ key: op.key, value: op.value ?? 0, remove: op.value === null })),
        })),
        validateOnly: request.validateOnly,
      },
      options.timeoutMs,
      (response) => ({
        results: response.results.map((result) => ({
          errorCode: result.errorCode,
          errorMessage: entryErrorMessage(result),
        })),
      }),
    );
  }

  async deleteAcls(
    filters: readonly AclBindingFilter[],
    options: ControllerRequestOptions,
  ): Promise<DeleteAclsResponse | ControllerError> {
    return this.callOne(
      'DeleteAcls',
      {
        filters: filters.map((filter) => ({
          resourceType: filter.resourceType,
          resourceName: filter.resourceName ?? '',
          hasResourceName: filter.resourceName !== null,
          patternType: filter.patternType,
          principal: filter.principal ?? '',
          hasPrincipal: filter.principal !== null,
          host: filter.host ?? '',
          hasHost: filter.host !== null,
          operation: filter.operation,
          permissionType: filter.permissionType,
        })),
      },
      options.timeoutMs,
      (response) => ({
        results: response.results.map((result) => ({
          errorCode: result.errorCode,
          errorMessage: entryErrorMessage(result),
          deleted: result.deleted,
        })),
      }),
    );
  }

  async alterPartitionReassignments(
    request: AlterPartitionReassignmentsRequest,
    options: ControllerRequestOptions,
  ): Promise<readonly ReassignmentResult[] | ControllerError> {
    return this.callOne(
      'AlterPartitionReassignments',
      {
        partitions: request.topics.flatMap((topic) =>
          topic.partitions.map((partition) => ({
            topicName: topic.name,
            partitionIndex: partition.partitionIndex,
            replicas: [...(partition.replicas ?? [])],
            hasReplicas: partition.replicas !== null,
          })),
        ),
        allowReplicationFactorChange: request.allowReplicationFactorChange,
      },
      options.timeoutMs,
      (response) =>
        response.results.map((result) => ({
          topicName: result.topicName,
          partitionIndex: result.partitionIndex,
          errorCode: result.errorCode,
          errorMessage: entryErrorMessage(result),
        })),
    );
  }

  async electLeaders(
    electionType: ElectionType,
    partitions: readonly TopicPartitionName[] | null,
    options: ControllerRequestOptions,
  ): Promise<readonly ElectionResult[] | ControllerError> {
    return this.callOne(
      'ElectLeaders',
      {
        electionType: electionType === 'preferred' ? 0 : 1,
        allPartitions: partitions === null,
        partitions: (partitions ?? []).map((partition) => ({ ...partition })),
      },
      options.timeoutMs,
      (response) =>
        response.results.map((result) => ({
          topicName: result.topicName,
          partitionIndex: result.partitionIndex,
          errorCode: result.errorCode,
        })),
    );
  }
}
