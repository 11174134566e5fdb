// The metadata shell's tree built from what the Kafka protocol exposes (Metadata v9 and
// DescribeConfigs v1), for `--bootstrap-server`. Same paths as `metadataTree` where Kafka carries
// the data; absent: fenced brokers and broker epochs (Metadata lists live brokers only), topic ids
// (Metadata v10+), partition epochs, producer id blocks and the controller epoch (null).

import type { MetadataNode } from '@gregor/metadata';
import type { ApiKey, ResponseBody } from '@gregor/protocol';

export type KafkaMetadata = ResponseBody<typeof ApiKey.Metadata>;
export type KafkaDescribeConfigs = ResponseBody<typeof ApiKey.DescribeConfigs>;

/** Kafka's DescribeConfigsResponse.ConfigSource.DYNAMIC_TOPIC_CONFIG: set on the topic itself. */
export const dynamicTopicConfigSource = 1;

class TreeBuilder {
  private readonly children = new Map<string, TreeBuilder>();
  data: string | null = null;

  constructor(readonly name: string) {}

  at(path: readonly string[]): TreeBuilder {
    let node: TreeBuilder = this;
    for (const name of path) {
      let child = node.children.get(name);
      if (child === undefined) {
        child = new TreeBuilder(name);
        node.children.set(name, child);
      }
      node = child;
    }
    return node;
  }

  build(): MetadataNode {
    const names = [...this.children.keys()].sort(compareNames);
    const children = new Map(names.map((name) => [name, this.children.get(name)!.build()]));
    return Object.freeze({ name: this.name, data: this.data, children });
  }
}

const numeric = /^\d+$/;

/** As metadataTree orders children: numbers numerically (2 before 10), then names by code point. */
export function compareNames(a: string, b: string): number {
  const aNumeric = numeric.test(a);
  const bNumeric = numeric.test(b);
  if (aNumeric && bNumeric) return Number(a) - Number(b);
  if (aNumeric !== bNumeric) return aNumeric ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The topic configs set on each topic (source DYNAMIC_TOPIC_CONFIG), by topic name. */
export function topicConfigsFrom(response: KafkaDescribeConfigs): Map<string, Record<string, string | null>> {
  const byTopic = new Map<string, Record<string, string | null>>();
  for (const result of response.results) {
    if (result.errorCode !== 0) continue;
    const configs: Record<string, string | null> = {};
    for (const entry of result.configs) {
      if (entry.configSource === dynamicTopicConfigSource) configs[entry.name] = entry.value;
    }
    byTopic.set(result.resourceName, configs);
  }
  return byTopic;
}

export function kafkaMetadataTree(
  metadata: KafkaMetadata,
  topicConfigs: ReadonlyMap<string, Record<string, string | null>>,
): MetadataNode {
  const root = new TreeBuilder('');
  root.at(['cluster', 'id']).data = metadata.clusterId ?? '';
  // The Kafka protocol names the controller but not its epoch.
  root.at(['controller']).data = String(metadata.controllerId >= 0 ? metadata.controllerId : -1);
  root.at(['brokers', 'ids']);
  for (const broker of metadata.brokers) {
    root.at(['brokers', 'ids', String(broker.nodeId)]).data = JSON.stringify({
      brokerId: broker.nodeId,
      host: broker.host,
      port: broker.port,
      rack: broker.rack,
    });
  }
  root.at(['brokers', 'topics']);
  root.at(['configs', 'topics']);
  for (const topic of metadata.topics) {
    // A topic that failed to load (e.g. deleted between list and describe) has no partitions to show.
    if (topic.errorCode !== 0 || topic.name === null) continue;
    const configs = topicConfigs.get(topic.name) ?? {};
    const topicNode = root.at(['brokers', 'topics', topic.name]);
    topicNode.data = JSON.stringify({ partitionCount: topic.partitions.length, configs });
    topicNode.at(['partitions']);
    for (const partition of topic.partitions) {
      topicNode.at(['partitions', String(partition.partitionIndex), 'state']).data = JSON.stringify({
        leader: partition.leaderId,
        leaderEpoch: partition.leaderEpoch,
        isr: partition.isrNodes,
        replicas: partition.replicaNodes,
        offlineReplicas: partition.offlineReplicas,
      });
    }
    root.at(['configs', 'topics', topic.name]).data = JSON.stringify(configs);
  }
  return root.build();
}
