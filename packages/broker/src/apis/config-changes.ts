// What AlterConfigs and IncrementalAlterConfigs share: one answer per resource, in request order.
// Topic configs go to the active controller, all of a topic's operations applied together or none,
// and are answered once committed in the metadata log and applied here (validate_only: once checked).
// Broker resources ('' the cluster-wide default, or a broker id) take the dynamic broker configs
// (metadata's dynamicBrokerConfigTopicKeys, the log-config defaults, and the replication throttle
// rates), forwarded to the controller the same way and persisted as BROKER ConfigRecords. Each
// resource is first authorized as Kafka does (ALTER_CONFIGS on the topic, or on the cluster for
// broker resources); a refusal answers that
// resource alone and the others proceed. A key Gregor knows but reads only at start is refused as
// Kafka refuses its static keys (INVALID_REQUEST "Cannot update these configs dynamically:
// Set(...)"), a key it does not know with INVALID_CONFIG.

import {
  type AlterConfigOperation,
  brokerResourceType,
  dynamicBrokerResourceNameProblem,
  type IncrementalAlterTopicConfigsRequest,
  isDynamicBrokerKey,
} from '@gregor/metadata';
import { configResourceType, ErrorCode } from '@gregor/protocol';
import { isBrokerLogConfigKey } from '@gregor/storage';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster, authorizedOnTopic } from './authorization.js';
import { isFailure } from './broker-context.js';

/**
 * How long a config change waits to commit and apply: AlterConfigs requests carry no timeout, and
 * Kafka's brokers forward them to the controller with the client's default request timeout.
 */
export const configChangeTimeoutMs = 30_000;

export interface ResourceChange {
  readonly resourceType: number;
  readonly resourceName: string;
  /** The operations, or the error that refuses this resource before it reaches the controller. */
  readonly operations: readonly AlterConfigOperation[] | { errorCode: number; errorMessage: string };
}

export interface ResourceAnswer {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export async function applyConfigChanges(
  changes: readonly ResourceChange[],
  options: { validateOnly: boolean },
  context: RequestContext,
): Promise<ResourceAnswer[]> {
  const answers: (ResourceAnswer | undefined)[] = [];
  const forwarded: { position: number; request: IncrementalAlterTopicConfigsRequest }[] = [];
  const seen = new Set<string>();
  changes.forEach((change, position) => {
    const answer = (errorCode: number, errorMessage: string | null): ResourceAnswer => ({
      resourceType: change.resourceType,
      resourceName: change.resourceName,
      errorCode,
      errorMessage,
    });
    const key = `${change.resourceType}:${change.resourceName}`;
    if (seen.has(key)) {
      answers.push(answer(ErrorCode.INVALID_REQUEST, `Duplicate resource ${change.resourceName}`));
      return;
    }
    seen.add(key);
    const denial = authorizationDenial(change, context);
    if (denial !== null) {
      answers.push(answer(denial.errorCode, denial.errorMessage));
      return;
    }
    if (!Array.isArray(change.operations)) {
      const refusal = change.operations as { errorCode: number; errorMessage: string };
      answers.push(answer(refusal.errorCode, refusal.errorMessage));
      return;
    }
    const operations = change.operations as readonly AlterConfigOperation[];
    switch (change.resourceType) {
      case configResourceType.topic:
        answers.push(undefined);
        forwarded.push({ position, request: { topicName: change.resourceName, operations } });
        return;
      case configResourceType.broker: {
        const refusal = brokerChangeRefusal(change.resourceName, operations, context);
        if (refusal !== null) {
          answers.push(answer(refusal.errorCode, refusal.errorMessage));
          return;
        }
        answers.push(undefined);
        forwarded.push({
          position,
          request: { topicName: change.resourceName, operations, resourceType: brokerResourceType },
        });
        return;
      }
      default:
        answers.push(
          answer(
            ErrorCode.INVALID_REQUEST,
            `Unsupported resource type ${change.resourceType} for altering configs`,
          ),
        );
    }
  });
  if (forwarded.length > 0) {
    const outcomes = await context.broker.controller.incrementalAlterConfigs(
      forwarded.map(({ request }) => request),
      { validateOnly: options.validateOnly, timeoutMs: configChangeTimeoutMs },
    );
    forwarded.forEach(({ position }, index) => {
      const outcome = outcomes[index]!;
      const change = changes[position]!;
      answers[position] = {
        resourceType: change.resourceType,
        resourceName: change.resourceName,
        errorCode: isFailure(outcome) ? outcome.errorCode : ErrorCode.NONE,
        errorMessage: isFailure(outcome) ? outcome.errorMessage : null,
      };
    });
  }
  return answers.map((answer) => answer!);
}

/**
 * Kafka's check before anything else about a resource (ControllerApis, ConfigAdminManager):
 * ALTER_CONFIGS on the topic for a topic (TOPIC_AUTHORIZATION_FAILED, whether or not it exists),
 * on the cluster for a broker or broker logger (CLUSTER_AUTHORIZATION_FAILED). Gregor then refuses
 * broker loggers as unsupported, but only to a principal Kafka would have let through.
 */
function authorizationDenial(
  change: ResourceChange,
  context: RequestContext,
): { errorCode: number; errorMessage: string } | null {
  switch (change.resourceType) {
    case configResourceType.topic:
      return authorizedOnTopic(context, AclOperation.ALTER_CONFIGS, change.resourceName)
        ? null
        : { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Topic authorization failed.' };
    case configResourceType.broker:
    case configResourceType.brokerLogger:
      return authorizedOnCluster(context, AclOperation.ALTER_CONFIGS)
        ? null
        : {
            errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
            errorMessage: 'Cluster authorization failed.',
          };
    default:
      return null;
  }
}

/**
 * Why a broker resource's changes are refused before the controller sees them: a name that is
 * neither '' nor a broker id, static keys (Kafka's message), or keys no broker config has.
 */
function brokerChangeRefusal(
  resourceName: string,
  operations: readonly AlterConfigOperation[],
  context: RequestContext,
): { errorCode: number; errorMessage: string } | null {
  const nameProblem = dynamicBrokerResourceNameProblem(resourceName);
  if (nameProblem !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: nameProblem };
  const described = new Set(context.broker.settings.describedConfigs.map((config) => config.name));
  const known = (name: string) => described.has(name) || isBrokerLogConfigKey(name);
  const notDynamic = operations
    .map((operation) => operation.name)
    .filter((name) => !isDynamicBrokerKey(name));
  const staticKeys = notDynamic.filter(known);
  if (staticKeys.length > 0) {
    return {
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: `Cannot update these configs dynamically: Set(${staticKeys.join(', ')})`,
    };
  }
  if (notDynamic.length > 0) {
    return {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: `Unknown broker config name: ${notDynamic.join(', ')}`,
    };
  }
  return null;
}
