// A znode-like tree view of the image for `gregor metadata-shell`: the paths a ZooKeeper-era Kafka
// operator knows, each node with optional data (JSON, or plain text for /cluster/id) and children.
//
//   /cluster/id                                     the cluster id
//   /controller                                     the active controller id (-1: none)
//   /controller_epoch                               its activation epoch (-1: unknown)
//   /brokers/ids/<id>                               registration, fenced state and epoch
//   /brokers/topics/<topic>                         {"topicId","partitionCount","configs"}
//   /brokers/topics/<topic>/partitions/<n>/state    {"leader","leaderEpoch","isr","replicas","partitionEpoch"}
//                                                   (+ "addingReplicas","removingReplicas" while reassigned)
//   /configs/topics/<topic>                         the topic's non-default configs
//   /configs/brokers/<default>|<id>                 dynamic broker configs: cluster-wide, one broker
//   /topicIds/<topicId>                             the topic name
//   /producerIds                                    the latest producer id block
//   /features/<name>                                a finalized feature's level (KIP-584)
//   /clusterSecret                                  `<redacted>`: the secret is there, never shown

import { isReassigning, type MetadataImage } from './image.js';

export interface MetadataNode {
  readonly name: string;
  /** The node's content; null for a node that only groups children. */
  readonly data: string | null;
  readonly children: ReadonlyMap<string, MetadataNode>;
}

export interface MetadataTreeContext {
  readonly clusterId: string;
  /** The active controller as the driver knows it (Raft leader); null when there is none. */
  readonly controllerId: number | null;
}

/** An expected failure of a shell command (no such node...). */
export interface ShellError {
  readonly error: string;
}

class NodeBuilder {
  private readonly children = new Map<string, NodeBuilder>();
  data: string | null = null;

  constructor(readonly name: string) {}

  child(name: string): NodeBuilder {
    let child = this.children.get(name);
    if (child === undefined) {
      child = new NodeBuilder(name);
      this.children.set(name, child);
    }
    return child;
  }

  at(path: readonly string[]): NodeBuilder {
    return path.reduce<NodeBuilder>((node, name) => node.child(name), this);
  }

  build(): MetadataNode {
    const names = [...this.children.keys()].sort(compareNames);
    const children = new Map(names.map((name) => [name, this.children.get(name)!.build()]));
    return Object.freeze({ name: this.name, data: this.data, children });
  }
}

const numeric = /^\d+$/;

/** Numbers in numeric order (broker 2 before broker 10), then names in code-point order. */
function compareNames(a: string, b: string): number {
  const aNumeric = numeric.test(a);
  const bNumeric = numeric.test(b);
  if (aNumeric && bNumeric) return Number(a) - Number(b);
  if (aNumeric !== bNumeric) return aNumeric ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What the shell shows in place of a secret. */
export const redactedMarker = '<redacted>';

function json(value: unknown): string {
  return JSON.stringify(value);
}

export function metadataTree(image: MetadataImage, context: MetadataTreeContext): MetadataNode {
  const root = new NodeBuilder('');
  root.at(['cluster', 'id']).data = context.clusterId;
  // As in ZooKeeper: /controller holds the active controller's id (-1: none known), and
  // /controller_epoch the epoch it was activated in, so `cat /controller` is script-friendly.
  root.at(['controller']).data = String(context.controllerId ?? -1);
  root.at(['controller_epoch']).data = String(image.controller?.controllerEpoch ?? -1);
  root.at(['brokers', 'ids']);
  for (const broker of image.brokers.values()) {
    // offlineReplicas is a Map (JSON would print {}): by topic id, the partition indexes.
    root.at(['brokers', 'ids', String(broker.brokerId)]).data = json({
      ...broker,
      offlineReplicas: Object.fromEntries(broker.offlineReplicas),
    });
  }
  root.at(['brokers', 'topics']);
  root.at(['configs', 'topics']);
  root.at(['configs', 'brokers']);
  for (const [resourceName, configs] of image.dynamicBrokerConfigs) {
    // ZooKeeper-era Kafka kept the cluster-wide default under /config/brokers/<default>.
    const name = resourceName === '' ? '<default>' : resourceName;
    root.at(['configs', 'brokers', name]).data = json(Object.fromEntries(configs));
  }
  root.at(['topicIds']);
  for (const topic of image.topics.values()) {
    const configs = Object.fromEntries(image.topicConfigs(topic.name));
    const topicNode = root.at(['brokers', 'topics', topic.name]);
    topicNode.data = json({ topicId: topic.topicId, partitionCount: topic.partitions.length, configs });
    const partitionsNode = topicNode.child('partitions');
    topic.partitions.forEach((partition, index) => {
      partitionsNode.at([String(index), 'state']).data = json({
        leader: partition.leader,
        leaderEpoch: partition.leaderEpoch,
        isr: partition.isr,
        replicas: partition.replicas,
        partitionEpoch: partition.partitionEpoch,
        // Only while a reassignment is in progress (KIP-455).
        ...(isReassigning(partition)
          ? { addingReplicas: partition.addingReplicas, removingReplicas: partition.removingReplicas }
          : {}),
      });
    });
    root.at(['configs', 'topics', topic.name]).data = json(configs);
    root.at(['topicIds', topic.topicId]).data = topic.name;
  }
  if (image.producerIds !== null) root.at(['producerIds']).data = json(image.producerIds);
  for (const [name, level] of image.finalizedFeatures) root.at(['features', name]).data = String(level);
  if (image.clusterSecret !== null) root.at(['clusterSecret']).data = redactedMarker;
  return root.build();
}

/** The path's components; `.` and `..` resolve, so `/brokers/../cluster` is `/cluster`. */
export function pathComponents(path: string): string[] {
  const components: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') components.pop();
    else components.push(part);
  }
  return components;
}

export function findNode(root: MetadataNode, path: string): MetadataNode | undefined {
  let node: MetadataNode | undefined = root;
  for (const name of pathComponents(path)) {
    node = node.children.get(name);
    if (node === undefined) return undefined;
  }
  return node;
}

function noSuchNode(path: string): ShellError {
  return { error: `${path}: no such node` };
}

/** The names of the node's children. */
export function ls(root: MetadataNode, path: string): string[] | ShellError {
  const node = findNode(root, path);
  return node === undefined ? noSuchNode(path) : [...node.children.keys()];
}

/** The node's data. */
export function cat(root: MetadataNode, path: string): string | ShellError {
  const node = findNode(root, path);
  if (node === undefined) return noSuchNode(path);
  if (node.data === null) return { error: `${path}: is a directory` };
  return node.data;
}

/** The subtree as indented lines, `name: data` for nodes with data. */
export function tree(root: MetadataNode, path: string): string | ShellError {
  const node = findNode(root, path);
  if (node === undefined) return noSuchNode(path);
  const lines: string[] = [];
  const walk = (current: MetadataNode, depth: number): void => {
    const label = depth === 0 ? `/${pathComponents(path).join('/')}` : current.name;
    lines.push(`${'  '.repeat(depth)}${label}${current.data === null ? '' : `: ${current.data}`}`);
    for (const child of current.children.values()) walk(child, depth + 1);
  };
  walk(node, 0);
  return lines.join('\n');
}
