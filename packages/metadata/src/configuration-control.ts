// Configuration control (Kafka's ConfigurationControlManager): topic configs — checking names and
// values, the config records of a new topic and of IncrementalAlterConfigs, and what a topic's
// configs say where the controller needs one (unclean leader election, falling back to the cluster
// default).

import type { ControllerBatch } from './controller-batch.js';
import type { ControllerConfig } from './controller-config.js';
import { type ControllerError, ControllerErrorCode, controllerError } from './errors.js';
import type { MetadataImage, TopicImage } from './image.js';
import { topicResourceType } from './records.js';
import {
  booleanTopicConfig,
  topicConfigProblem,
  uncleanLeaderElectionEnableConfig,
} from './topic-configs.js';

const errors = ControllerErrorCode;

export interface TopicConfigEntry {
  readonly name: string;
  readonly value: string;
}

export interface AlterConfigOperation {
  readonly name: string;
  readonly operation: 'set' | 'delete';
  /** The new value for 'set'; ignored for 'delete'. */
  readonly value: string | null;
}

export interface IncrementalAlterTopicConfigsRequest {
  readonly topicName: string;
  readonly operations: readonly AlterConfigOperation[];
}

export interface IncrementalAlterConfigsResponse {
  /** Leaderless partitions that got a leader because unclean election was just enabled. */
  readonly uncleanLeaderElectionCount: number;
}

export class ConfigurationControlManager {
  constructor(
    private readonly config: ControllerConfig,
    /** The controller's working image: every record proposed so far applied, committed or not. */
    private readonly image: () => MetadataImage,
  ) {}

  /** Why a new topic's configs are refused (a repeated name, an unknown key, an ill-typed value). */
  newTopicConfigsProblem(configs: readonly TopicConfigEntry[]): string | null {
    const names = configs.map((config) => config.name);
    if (new Set(names).size !== names.length) return `config names repeat: ${names.join(', ')}`;
    for (const config of configs) {
      const problem = topicConfigProblem(config.name, config.value);
      if (problem !== null) return problem;
    }
    return null;
  }

  /** The config records of a topic being created, after its topic record. */
  addNewTopicConfigs(batch: ControllerBatch, topicName: string, configs: readonly TopicConfigEntry[]): void {
    for (const config of configs) {
      batch.add({
        type: 'config',
        resourceType: topicResourceType,
        resourceName: topicName,
        name: config.name,
        value: config.value,
      });
    }
  }

  /** IncrementalAlterConfigs' checks for one topic: all operations are valid, or none is applied. */
  validateAlterTopicConfigs(request: IncrementalAlterTopicConfigsRequest): TopicImage | ControllerError {
    const topic = this.image().topic(request.topicName);
    if (topic === undefined) {
      return controllerError(errors.UNKNOWN_TOPIC_OR_PARTITION, `topic ${request.topicName} does not exist`);
    }
    const names = request.operations.map((operation) => operation.name);
    if (new Set(names).size !== names.length) {
      return controllerError(
        errors.INVALID_REQUEST,
        `config names repeat in one request: ${names.join(', ')}`,
      );
    }
    for (const operation of request.operations) {
      if (operation.operation === 'set') {
        const problem =
          operation.value === null
            ? `set ${operation.name} without a value`
            : topicConfigProblem(operation.name, operation.value);
        if (problem !== null) return controllerError(errors.INVALID_CONFIG, problem);
      } else if (topicConfigProblem(operation.name, '') === `unknown topic config ${operation.name}`) {
        return controllerError(errors.INVALID_CONFIG, `unknown topic config ${operation.name}`);
      }
    }
    return topic;
  }

  /** A config record per validated operation that changes something (set and delete). */
  alterTopicConfigs(
    batch: ControllerBatch,
    topicName: string,
    operations: readonly AlterConfigOperation[],
  ): void {
    const current = this.image().topicConfigs(topicName);
    for (const operation of operations) {
      const value = operation.operation === 'set' ? operation.value : null;
      if ((current.get(operation.name) ?? null) === value) continue;
      batch.add({
        type: 'config',
        resourceType: topicResourceType,
        resourceName: topicName,
        name: operation.name,
        value,
      });
    }
  }

  /** `unclean.leader.election.enable` of the topic as of `batch`, else the cluster default. */
  uncleanLeaderElectionEnabled(batch: ControllerBatch, topicName: string): boolean {
    return booleanTopicConfig(
      batch.delta.topicConfigs(topicName),
      uncleanLeaderElectionEnableConfig,
      this.config.uncleanLeaderElectionEnable,
    );
  }
}
