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
import type { ControllerStatus } from '../quorum/controller-rpc.js';

/** The metadata this broker has fully applied (image and replica manager). */
export interface AppliedMetadata {
  image(): MetadataImage;
  waitForOffset(offset: number, timeoutMs: number): Promise<boolean>;
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

  async createTopics(
    requests: readonly CreateTopicRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<CreateTopicResponse>> {
    const response = await this.client.call(
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
      options.timeoutMs,
    );
    const failure = await this.settle(response.status, requests.length, options.timeoutMs);
    if (failure !== undefined) return failure;
    return response.topics.map((topic) =>
      topic.errorCode !== ErrorCode.NONE
        ? controllerError(topic.errorCode, topic.errorMessage)
        : {
            topicId: topic.topicId,
            numPartitions: topic.numPartitions,
            replicationFactor: topic.replicationFactor,
            configs: topic.configs.map((entry) => ({ name: entry.name, value: entry.value })),
          },
    );
  }

  async deleteTopics(
    selectors: readonly TopicSelector[],
    options: ControllerRequestOptions,
  ): Promise<ControllerResults<DeleteTopicResponse>> {
    // Names and ids travel in separate lists; answers come back names first, then ids.
    const names = selectors.flatMap((selector) => ('name' in selector ? [selector.name] : []));
    const topicIds = selectors.flatMap((selector) => ('topicId' in selector ? [selector.topicId] : []));
    const response = await this.client.call('DeleteTopics', { names, topicIds }, options.timeoutMs);
    const failure = await this.settle(response.status, selectors.length, options.timeoutMs);
    if (failure !== undefined) return failure;
    const byName = response.topics.slice(0, names.length);
    const byId = response.topics.slice(names.length);
    let nameIndex = 0;
    let idIndex = 0;
    return selectors.map((selector) => {
      const topic = 'name' in selector ? byName[nameIndex++] : byId[idIndex++];
      if (topic === undefined)
        return controllerError(ErrorCode.UNKNOWN_SERVER_ERROR, 'controller gave no answer for this topic');
      return topic.errorCode !== ErrorCode.NONE
        ? controllerError(topic.errorCode, topic.errorMessage)
        : { name: topic.name, topicId: topic.topicId };
    });
  }

  async createPartitions(
    requests: readonly CreatePartitionsRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<CreatePartitionsResponse>> {
    const response = await this.client.call(
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
      options.timeoutMs,
    );
    const failure = await this.settle(response.status, requests.length, options.timeoutMs);
    if (failure !== undefined) return failure;
    return response.topics.map((topic, index) =>
      topic.errorCode !== ErrorCode.NONE
        ? controllerError(topic.errorCode, topic.errorMessage)
        : {
            topicId: this.publisher.image().topic(topic.name)?.topicId ?? '',
            count: requests[index]?.count ?? -1,
          },
    );
  }

  async incrementalAlterConfigs(
    requests: readonly IncrementalAlterTopicConfigsRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<IncrementalAlterConfigsResponse>> {
    const response = await this.client.call(
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
      options.timeoutMs,
    );
    const failure = await this.settle(response.status, requests.length, options.timeoutMs);
    if (failure !== undefined) return failure;
    return response.topics.map((topic) =>
      topic.errorCode !== ErrorCode.NONE
        ? controllerError(topic.errorCode, topic.errorMessage)
        : { uncleanLeaderElectionCount: 0 },
    );
  }

  async createDelegationToken(
    request: CreateDelegationTokenRequest,
    options: ControllerRequestOptions,
  ): Promise<CreateDelegationTokenResponse | ControllerError> {
    const response = await this.client.call(
      'CreateDelegationToken',
      { ...request, renewers: [...request.renewers] },
      options.timeoutMs,
    );
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    if (response.token === null)
      return controllerError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the controller answered without the token');
    return { token: response.token };
  }

  async renewDelegationToken(
    request: RenewDelegationTokenRequest,
    options: ControllerRequestOptions,
  ): Promise<DelegationTokenExpiryResponse | ControllerError> {
    const response = await this.client.call('RenewDelegationToken', { ...request }, options.timeoutMs);
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return { expiryTimestampMs: response.expiryTimestampMs };
  }

  async expireDelegationToken(
    request: ExpireDelegationTokenRequest,
    options: ControllerRequestOptions,
  ): Promise<DelegationTokenExpiryResponse | ControllerError> {
    const response = await this.client.call('ExpireDelegationToken', { ...request }, options.timeoutMs);
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return { expiryTimestampMs: response.expiryTimestampMs };
  }

  async alterUserScramCredentials(
    request: AlterUserScramCredentialsRequest,
    options: ControllerRequestOptions,
  ): Promise<AlterUserScramCredentialsResponse | ControllerError> {
    const response = await this.client.call(
      'AlterUserScramCredentials',
      { deletions: [...request.deletions], upsertions: [...request.upsertions] },
      options.timeoutMs,
    );
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return {
      results: response.results.map((result) => ({
        user: result.user,
        errorCode: result.errorCode,
        errorMessage: result.errorCode === ErrorCode.NONE ? null : result.errorMessage,
      })),
    };
  }

  async createAcls(
    bindings: readonly AclBinding[],
    options: ControllerRequestOptions,
  ): Promise<CreateAclsResponse | ControllerError> {
    const response = await this.client.call('CreateAcls', { creations: [...bindings] }, options.timeoutMs);
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return {
      results: response.results.map((result) => ({
        errorCode: result.errorCode,
        errorMessage: result.errorCode === ErrorCode.NONE ? null : result.errorMessage,
      })),
    };
  }

  async unregisterBroker(
    brokerId: number,
    options: ControllerRequestOptions,
  ): Promise<Record<string, never> | ControllerError> {
    const response = await this.client.call('UnregisterBroker', { brokerId }, options.timeoutMs);
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return {};
  }

  async updateFeatures(
    request: UpdateFeaturesRequest,
    options: ControllerRequestOptions,
  ): Promise<Record<string, never> | ControllerError> {
    const response = await this.client.call(
      'UpdateFeatures',
      { updates: request.updates.map((update) => ({ ...update })), validateOnly: request.validateOnly },
      options.timeoutMs,
    );
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return {};
  }

  async alterClientQuotas(
    request: AlterClientQuotasRequest,
    options: ControllerRequestOptions,
  ): Promise<AlterClientQuotasResponse | ControllerError> {
    const response = await this.client.call(
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
    );
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return {
      results: response.results.map((result) => ({
        errorCode: result.errorCode,
        errorMessage: result.errorCode === ErrorCode.NONE ? null : result.errorMessage,
      })),
    };
  }

  async deleteAcls(
    filters: readonly AclBindingFilter[],
    options: ControllerRequestOptions,
  ): Promise<DeleteAclsResponse | ControllerError> {
    const response = await this.client.call(
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
    );
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return {
      results: response.results.map((result) => ({
        errorCode: result.errorCode,
        errorMessage: result.errorCode === ErrorCode.NONE ? null : result.errorMessage,
        deleted: result.deleted,
      })),
    };
  }

  async alterPartitionReassignments(
    request: AlterPartitionReassignmentsRequest,
    options: ControllerRequestOptions,
  ): Promise<readonly ReassignmentResult[] | ControllerError> {
    const response = await this.client.call(
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
    );
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return response.results.map((result) => ({
      topicName: result.topicName,
      partitionIndex: result.partitionIndex,
      errorCode: result.errorCode,
      errorMessage: result.errorCode === ErrorCode.NONE ? null : result.errorMessage,
    }));
  }

  async electLeaders(
    electionType: ElectionType,
    partitions: readonly TopicPartitionName[] | null,
    options: ControllerRequestOptions,
  ): Promise<readonly ElectionResult[] | ControllerError> {
    const response = await this.client.call(
      'ElectLeaders',
      {
        electionType: electionType === 'preferred' ? 0 : 1,
        allPartitions: partitions === null,
        partitions: (partitions ?? []).map((partition) => ({ ...partition })),
      },
      options.timeoutMs,
    );
    const failure = await this.settle(response.status, 1, options.timeoutMs);
    if (failure !== undefined) return failure[0]!;
    return response.results.map((result) => ({
      topicName: result.topicName,
      partitionIndex: result.partitionIndex,
      errorCode: result.errorCode,
    }));
  }
}
