// Configs of topics and brokers, in kafkajs's shapes: DescribeConfigs, and alterConfigs sent as
// IncrementalAlterConfigs, so a config the call does not name keeps its value; or, with
// `incremental: false`, as kafkajs sends it: the older AlterConfigs, which replaces the resource's
// whole dynamic config, so every config the call does not name goes back to its default. A broker
// resource that names a broker id goes to that broker, as Kafka requires; topics and the
// cluster-wide broker defaults go to any broker.

import { ApiKey, alterConfigOpType, ErrorCode } from '@gregor/protocol';
import type { Cluster } from '../cluster.js';
import { KafkaJSError, KafkaJSProtocolError } from '../errors.js';
import { withRetry } from '../retry.js';

/** kafkajs's ConfigResourceTypes. */
export const ConfigResourceTypes = { UNKNOWN: 0, TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;

/** kafkajs's ConfigSource (Kafka's DescribeConfigsResponse config_source). */
export const ConfigSource = {
  UNKNOWN: 0,
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
} as const;

/** What an alterConfigs entry does; `set` when it names none (kafkajs's entries are all sets). */
export const AlterConfigOperations = alterConfigOpType;

export interface ResourceConfigQuery {
  readonly type: number;
  readonly name: string;
  /** The configs to describe; all when absent. */
  readonly configNames?: readonly string[];
}

export interface ConfigSynonym {
  readonly configName: string;
  readonly configValue: string | null;
  readonly configSource: number;
}

export interface ConfigEntry {
  readonly configName: string;
  readonly configValue: string | null;
  readonly readOnly: boolean;
  readonly isDefault: boolean;
  readonly configSource: number;
  readonly isSensitive: boolean;
  readonly configSynonyms: ConfigSynonym[];
}

export interface DescribeConfigResponse {
  readonly resources: {
    readonly errorCode: number;
    readonly errorMessage: string | null;
    readonly resourceName: string;
    readonly resourceType: number;
    readonly configEntries: ConfigEntry[];
  }[];
  readonly throttleTime: number;
}

export interface IResourceConfig {
  readonly type: number;
  readonly name: string;
  readonly configEntries: readonly {
    readonly name: string;
    readonly value?: string | null;
    /** An extension of kafkajs's shape: `AlterConfigOperations.delete`, `.append`, `.subtract`. */
    readonly operation?: number;
  }[];
}

export interface AlterConfigResponse {
  readonly resources: {
    readonly errorCode: number;
    readonly errorMessage: string | null;
    readonly resourceName: string;
    readonly resourceType: number;
  }[];
  readonly throttleTime: number;
}

/** The broker that must answer for a resource, or -1 for any broker. */
export function targetNode(resource: { readonly type: number; readonly name: string }): number {
  return resource.type === ConfigResourceTypes.BROKER && /^\d+$/.test(resource.name)
    ? Number(resource.name)
    : -1;
}

/** Sends each resource group to its broker; results come back in the order of `resources`. */
export async function byTarget<R extends { readonly type: number; readonly name: string }, T>(
  resources: readonly R[],
  send: (node: number, group: readonly R[]) => Promise<readonly T[]>,
): Promise<T[]> {
  const groups = new Map<number, R[]>();
  for (const resource of resources) {
    const node = targetNode(resource);
    groups.set(node, [...(groups.get(node) ?? []), resource]);
  }
  const answered = await Promise.all(
    [...groups].map(async ([node, group]) => ({ group, results: await send(node, group) })),
  );
  const results = new Map<R, T>();
  for (const { group, results: groupResults } of answered) {
    for (const [index, resource] of group.entries()) results.set(resource, groupResults[index]!);
  }
  return resources.map((resource) => results.get(resource)!);
}

function failure(
  results: readonly { errorCode: number; errorMessage: string | null; resourceName: string }[],
): KafkaJSProtocolError | undefined {
  const failed = results.find((result) => result.errorCode !== ErrorCode.NONE);
  if (failed === undefined) return undefined;
  return new KafkaJSProtocolError(
    failed.errorCode,
    `${failed.resourceName}${failed.errorMessage === null ? '' : `: ${failed.errorMessage}`}`,
  );
}

export async function describeConfigs(
  cluster: Cluster,
  options: { readonly resources: readonly ResourceConfigQuery[]; readonly includeSynonyms?: boolean },
): Promise<DescribeConfigResponse> {
  await cluster.refreshMetadata();
  const resources = await withRetry(cluster.retry, () =>
    byTarget(options.resources, async (node, group) => {
      const body = {
        resources: group.map((resource) => ({
          resourceType: resource.type,
          resourceName: resource.name,
          configurationKeys: resource.configNames === undefined ? null : [...resource.configNames],
        })),
        includeSynonyms: options.includeSynonyms ?? false,
        includeDocumentation: false,
      };
      const response =
        node < 0
          ? await cluster.sendAny(ApiKey.DescribeConfigs, body)
          : await cluster.send(node, ApiKey.DescribeConfigs, body);
      // Kafka answers the resources in the order they were asked.
      return response.results.map((result) => ({
        errorCode: result.errorCode,
        errorMessage: result.errorMessage,
        resourceName: result.resourceName,
        resourceType: result.resourceType,
        configEntries: result.configs.map((config) => ({
          configName: config.name,
          configValue: config.value,
          readOnly: config.readOnly,
          isDefault: config.configSource === ConfigSource.DEFAULT_CONFIG,
          configSource: config.configSource,
          isSensitive: config.isSensitive,
          configSynonyms: config.synonyms.map((synonym) => ({
            configName: synonym.name,
            configValue: synonym.value,
            configSource: synonym.source,
          })),
        })),
      }));
    }),
  );
  const error = failure(resources);
  if (error !== undefined) throw error;
  return { resources, throttleTime: 0 };
}

export interface AlterConfigsOptions {
  readonly resources: readonly IResourceConfig[];
  readonly validateOnly?: boolean;
  /**
   * Default true: IncrementalAlterConfigs, configs not named keep their values. false: kafkajs's
   * request, AlterConfigs, which replaces each resource's dynamic configs with those named (the
   * others go back to their defaults); entries can only set then.
   */
  readonly incremental?: boolean;
}

export async function alterConfigs(
  cluster: Cluster,
  options: AlterConfigsOptions,
): Promise<AlterConfigResponse> {
  if (options.incremental === false) return replaceConfigs(cluster, options);
  return alterEachTarget(cluster, options, (node, group, validateOnly) => {
    const body = {
      resources: group.map((resource) => ({
        resourceType: resource.type,
        resourceName: resource.name,
        configs: resource.configEntries.map((entry) => ({
          name: entry.name,
          configOperation: entry.operation ?? AlterConfigOperations.set,
          value: entry.value ?? null,
        })),
      })),
      validateOnly,
    };
    return node < 0
      ? cluster.sendAny(ApiKey.IncrementalAlterConfigs, body)
      : cluster.send(node, ApiKey.IncrementalAlterConfigs, body);
  });
}

/** kafkajs's alterConfigs: AlterConfigs, each resource's dynamic configs become exactly those named. */
async function replaceConfigs(cluster: Cluster, options: AlterConfigsOptions): Promise<AlterConfigResponse> {
  for (const resource of options.resources) {
    const entry = resource.configEntries.find(
      (candidate) => (candidate.operation ?? AlterConfigOperations.set) !== AlterConfigOperations.set,
    );
    // AlterConfigs has no operations: a delete would silently become "set to null", an append a set.
    if (entry !== undefined) {
      throw new KafkaJSError(
        `${resource.name}: ${entry.name} has an operation; alterConfigs with incremental: false only sets (leave a config out to reset it)`,
      );
    }
  }
  return alterEachTarget(cluster, options, (node, group, validateOnly) => {
    const body = {
      resources: group.map((resource) => ({
        resourceType: resource.type,
        resourceName: resource.name,
        configs: resource.configEntries.map((entry) => ({ name: entry.name, value: entry.value ?? null })),
      })),
      validateOnly,
    };
    return node < 0
      ? cluster.sendAny(ApiKey.AlterConfigs, body)
      : cluster.send(node, ApiKey.AlterConfigs, body);
  });
}

/**
 * Sends each target its resources (a broker's own configs go to that broker, the rest to any) with
 * the request `send` builds, with the client's retries, and fails with the first resource refused.
 * The same for AlterConfigs and IncrementalAlterConfigs, whose answers have the same shape.
 */
async function alterEachTarget(
  cluster: Cluster,
  options: AlterConfigsOptions,
  send: (
    node: number,
    group: readonly IResourceConfig[],
    validateOnly: boolean,
  ) => Promise<{ readonly responses: readonly AlterConfigResponse['resources'][number][] }>,
): Promise<AlterConfigResponse> {
  await cluster.refreshMetadata();
  const resources = await withRetry(cluster.retry, () =>
    byTarget(options.resources, async (node, group) => {
      const response = await send(node, group, options.validateOnly ?? false);
      return response.responses.map((result) => ({
        errorCode: result.errorCode,
        errorMessage: result.errorMessage,
        resourceName: result.resourceName,
        resourceType: result.resourceType,
      }));
    }),
  );
  const error = failure(resources);
  if (error !== undefined) throw error;
  return { resources, throttleTime: 0 };
}
