// Configuration control (Kafka's ConfigurationControlManager): topic configs — checking names and
// values, the config records of a new topic and of IncrementalAlterConfigs, and what a topic's
// configs say where the controller needs one (unclean leader election, falling back to the cluster
// default).

import {
  clusterDefaultBrokerResource,
  dynamicBrokerConfigTopicKeys,
  dynamicBrokerOnlyKeys,
  dynamicBrokerOnlyValueProblem,
  dynamicBrokerResourceNameProblem,
  isDynamicBrokerKey,
} from './broker-configs.js';
import type { ControllerBatch } from './controller-batch.js';
import type { ControllerConfig } from './controller-config.js';
import { type ControllerError, ControllerErrorCode, controllerError, isErrorValue } from './errors.js';
import type { MetadataImage, TopicImage } from './image.js';
import { brokerResourceType, topicResourceType } from './records.js';
import {
  booleanTopicConfig,
  isListTopicConfig,
  listTopicConfigDefault,
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
  /** Kafka's OpType: append and subtract add or remove items of a list config (KIP-339). */
  readonly operation: 'set' | 'delete' | 'append' | 'subtract';
  /** The new value for 'set', the items (comma-separated) for 'append' and 'subtract'. */
  readonly value: string | null;
}

/** A validated change: the config's new value, or null to remove the topic's own value. */
export interface TopicConfigChange {
  readonly name: string;
  readonly value: string | null;
}

export interface ValidatedTopicConfigChanges {
  readonly topic: TopicImage;
  readonly changes: readonly TopicConfigChange[];
}

export interface IncrementalAlterTopicConfigsRequest {
  /** The topic, or with `resourceType` BROKER the broker resource: '' (cluster default) or an id. */
  readonly topicName: string;
  readonly operations: readonly AlterConfigOperation[];
  /** Kafka's ConfigResource.Type: TOPIC (2, the default) or BROKER (4, dynamic broker configs). */
  readonly resourceType?: typeof topicResourceType | typeof brokerResourceType;
}

export interface ValidatedBrokerConfigChanges {
  readonly resourceName: string;
  readonly changes: readonly TopicConfigChange[];
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

  /**
   * IncrementalAlterConfigs' checks for one topic: all operations are valid, or none is applied.
   * Returns the new value of every config named, computed as Kafka's ConfigurationControlManager
   * does (APPEND and SUBTRACT start from the topic's value, else the config's default).
   */
  validateAlterTopicConfigs(
    request: IncrementalAlterTopicConfigsRequest,
  ): ValidatedTopicConfigChanges | ControllerError {
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
      if (topicConfigProblem(operation.name, '') === `unknown topic config ${operation.name}`) {
        return controllerError(errors.INVALID_CONFIG, `Unknown topic config name: ${operation.name}`);
      }
    }
    const changes = computeChanges(request.operations, this.image().topicConfigs(topic.name), (name) => name);
    return isErrorValue(changes) ? changes : { topic, changes };
  }

  /**
   * IncrementalAlterConfigs' checks for one dynamic broker config resource ('' or a broker id): only
   * the dynamic keys, each value checked as its topic key's is; all operations valid, or none applied.
   */
  validateAlterBrokerConfigs(
    request: IncrementalAlterTopicConfigsRequest,
  ): ValidatedBrokerConfigChanges | ControllerError {
    const resourceName = request.topicName;
    const nameProblem = dynamicBrokerResourceNameProblem(resourceName);
    if (nameProblem !== null) return controllerError(errors.INVALID_REQUEST, nameProblem);
    const names = request.operations.map((operation) => operation.name);
    if (new Set(names).size !== names.length) {
      return controllerError(
        errors.INVALID_REQUEST,
        `config names repeat in one request: ${names.join(', ')}`,
      );
    }
    const notDynamic = names.filter((name) => !isDynamicBrokerKey(name));
    if (notDynamic.length > 0) {
      return controllerError(
        errors.INVALID_CONFIG,
        `Not dynamic broker configs: ${notDynamic.join(', ')} (dynamic: ${[...dynamicBrokerConfigTopicKeys.keys(), ...dynamicBrokerOnlyKeys.keys()].join(', ')})`,
      );
    }
    // The throttle rates are no topic key's default: a long >= 0, set or deleted, nothing else.
    for (const operation of request.operations) {
      if (!dynamicBrokerOnlyKeys.has(operation.name) || operation.operation === 'delete') continue;
      const problem =
        operation.operation !== 'set' || operation.value === null
          ? `${operation.operation.toUpperCase()} is not supported for ${operation.name}`
          : dynamicBrokerOnlyValueProblem(operation.name, operation.value);
      if (problem !== null) return controllerError(errors.INVALID_CONFIG, problem);
    }
    const brokerOnly = request.operations.filter((operation) => dynamicBrokerOnlyKeys.has(operation.name));
    const changes = computeChanges(
      request.operations.filter((operation) => !dynamicBrokerOnlyKeys.has(operation.name)),
      this.image().brokerConfigs(resourceName),
      (name) => dynamicBrokerConfigTopicKeys.get(name)!,
    );
    if (isErrorValue(changes)) return changes;
    for (const operation of brokerOnly) {
      changes.push({
        name: operation.name,
        value: operation.operation === 'delete' ? null : operation.value!.trim(),
      });
    }
    return { resourceName, changes };
  }

  /** A broker config record per validated change that changes something. */
  alterBrokerConfigs(
    batch: ControllerBatch,
    resourceName: string,
    changes: readonly TopicConfigChange[],
  ): void {
    const current = this.image().brokerConfigs(resourceName);
    for (const { name, value } of changes) {
      if ((current.get(name) ?? null) === value) continue;
      batch.add({ type: 'config', resourceType: brokerResourceType, resourceName, name, value });
    }
  }

  /** The topics whose `unclean.leader.election.enable` is true as of `batch` (their own, else the default). */
  uncleanElectionTopics(batch: ControllerBatch): string[] {
    return [...batch.delta.topicNames()].filter((name) => this.uncleanLeaderElectionEnabled(batch, name));
  }

  /** A config record per validated change that changes something. */
  alterTopicConfigs(batch: ControllerBatch, topicName: string, changes: readonly TopicConfigChange[]): void {
    const current = this.image().topicConfigs(topicName);
    for (const { name, value } of changes) {
      if ((current.get(name) ?? null) === value) continue;
      batch.add({
        type: 'config',
        resourceType: topicResourceType,
        resourceName: topicName,
        name,
        value,
      });
    }
  }

  /**
   * `min.insync.replicas` of the topic as of `batch`, else the dynamic cluster default, else the
   * controller's static config (the controller is not one broker: per-broker values do not apply).
   */
  minInsyncReplicas(batch: ControllerBatch, topicName: string): number {
    const value =
      batch.delta.topicConfigs(topicName).get('min.insync.replicas') ??
      batch.delta.brokerConfigs(clusterDefaultBrokerResource).get('min.insync.replicas');
    const parsed = value === undefined ? Number.NaN : Number(value);
    return Number.isInteger(parsed) && parsed >= 1 ? parsed : this.config.minInsyncReplicas;
  }

  /**
   * `unclean.leader.election.enable` of the topic as of `batch`, else the dynamic cluster default,
   * else the controller's static config.
   */
  uncleanLeaderElectionEnabled(batch: ControllerBatch, topicName: string): boolean {
    const topicConfigs = batch.delta.topicConfigs(topicName);
    const configs = topicConfigs.has(uncleanLeaderElectionEnableConfig)
      ? topicConfigs
      : batch.delta.brokerConfigs(clusterDefaultBrokerResource);
    return booleanTopicConfig(
      configs,
      uncleanLeaderElectionEnableConfig,
      this.config.uncleanLeaderElectionEnable,
    );
  }
}

/**
 * The new value of every config the operations name, computed as Kafka's ConfigurationControlManager
 * does (APPEND and SUBTRACT start from the current value, else the config's default); `topicKey` gives
 * the topic key whose type and checks a name takes.
 */
function computeChanges(
  operations: readonly AlterConfigOperation[],
  current: ReadonlyMap<string, string>,
  topicKey: (name: string) => string,
): TopicConfigChange[] | ControllerError {
  const changes: TopicConfigChange[] = [];
  for (const operation of operations) {
    const key = topicKey(operation.name);
    let value: string | null;
    switch (operation.operation) {
      case 'delete':
        value = null;
        break;
      case 'set':
        if (operation.value === null) {
          return controllerError(errors.INVALID_REQUEST, `Null value not supported for : ${operation.name}`);
        }
        value = operation.value;
        break;
      case 'append':
      case 'subtract': {
        if (!isListTopicConfig(key)) {
          return controllerError(
            errors.INVALID_CONFIG,
            `Can't ${operation.operation.toUpperCase()} to key ${operation.name} because its type is not LIST.`,
          );
        }
        const start = current.get(operation.name) ?? listTopicConfigDefault(key);
        const items = start === '' ? [] : start.split(',');
        for (const item of (operation.value ?? '').split(',')) {
          const at = items.indexOf(item);
          if (operation.operation === 'append' && at === -1) items.push(item);
          if (operation.operation === 'subtract' && at !== -1) items.splice(at, 1);
        }
        value = items.join(',');
        break;
      }
    }
    if (value !== null) {
      const problem = topicConfigProblem(key, value);
      // Named by the key asked for: a broker key's checks are its topic key's.
      if (problem !== null)
        return controllerError(errors.INVALID_CONFIG, problem.split(key).join(operation.name));
    }
    changes.push({ name: operation.name, value });
  }
  return changes;
}
