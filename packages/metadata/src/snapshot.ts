// The image as a list of records (KRaft snapshots): replaying them on an empty image rebuilds it.
//
//   snapshot = formatVersion:uint8 count:uvarint (length:uvarint record)*
//
// Order matters only where the image checks it: brokers by ascending epoch (each registration must
// exceed the last), a topic before its partitions (in index order) and configs, partitions before
// the offline replicas that name them.

import { collectionCountMax, DecodeError, Reader, Writer } from '@gregor/protocol';
import { applyRecords, isReassigning, MetadataImage } from './image.js';
import { recordListCodec } from './record-codec.js';
import { brokerResourceType, type MetadataRecord, topicResourceType } from './records.js';

export const snapshotFormatVersion = 0;

/** Upper bound on records in a decoded snapshot, so a forged count cannot allocate the heap away. */
export const snapshotRecordsMax = collectionCountMax;

export interface ImageToRecordsOptions {
  /**
   * 'keep' (snapshots: the image as it is) or 'omit' (an image for a tool outside the cluster,
   * DescribeMetadata): the cluster secret never leaves the nodes.
   */
  readonly secrets: 'keep' | 'omit';
}

export function imageToRecords(
  image: MetadataImage,
  options: ImageToRecordsOptions = { secrets: 'keep' },
): MetadataRecord[] {
  const records: MetadataRecord[] = [];
  if (image.controller !== null) records.push({ type: 'controllerActivation', ...image.controller });
  if (image.clusterSecret !== null && options.secrets === 'keep')
    records.push({ type: 'clusterSecret', secret: image.clusterSecret });
  const brokers = [...image.brokers.values()].sort((a, b) => a.brokerEpoch - b.brokerEpoch);
  for (const broker of brokers) {
    const { offlineLogDirs: _dirs, offlineReplicas: _replicas, ...registration } = broker;
    records.push({ type: 'registerBroker', ...registration });
  }
  const byName = ([a]: [string, string], [b]: [string, string]) => (a < b ? -1 : a > b ? 1 : 0);
  for (const resourceName of [...image.dynamicBrokerConfigs.keys()].sort()) {
    for (const [name, value] of [...image.brokerConfigs(resourceName)].sort(byName)) {
      records.push({ type: 'config', resourceType: brokerResourceType, resourceName, name, value });
    }
  }
  const topicNames = [...image.topics.keys()].sort();
  for (const name of topicNames) {
    const topic = image.topics.get(name)!;
    records.push({ type: 'topic', name, topicId: topic.topicId });
    topic.partitions.forEach((partition, partitionIndex) => {
      const { addingReplicas, removingReplicas, ...state } = partition;
      records.push({
        type: 'partition',
        topicId: topic.topicId,
        partitionIndex,
        ...state,
        // Only a partition being reassigned carries them, so the others encode as before.
        ...(isReassigning(partition) ? { addingReplicas, removingReplicas } : {}),
      });
    });
    const configs = [...image.topicConfigs(name)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [configName, value] of configs) {
      records.push({
        type: 'config',
        resourceType: topicResourceType,
        resourceName: name,
        name: configName,
        value,
      });
    }
  }
  // After the topics: the record names partitions, which must exist.
  for (const broker of brokers) {
    if (broker.offlineLogDirs.length === 0 && broker.offlineReplicas.size === 0) continue;
    records.push({
      type: 'brokerReplicasOffline',
      brokerId: broker.brokerId,
      brokerEpoch: broker.brokerEpoch,
      logDirs: broker.offlineLogDirs,
      replicas: [...broker.offlineReplicas].flatMap(([topicId, indexes]) =>
        indexes.map((partitionIndex) => ({ topicId, partitionIndex })),
      ),
    });
  }
  if (image.producerIds !== null) records.push({ type: 'producerIds', ...image.producerIds });
  for (const name of [...image.scramCredentials.keys()].sort()) {
    for (const [mechanism, credential] of image.userScramCredentials(name)) {
      records.push({ type: 'userScramCredential', name, mechanism, ...credential });
    }
  }
  for (const tokenId of [...image.delegationTokens.keys()].sort()) {
    records.push({ type: 'delegationToken', ...image.delegationTokens.get(tokenId)! });
  }
  for (const [id, binding] of [...image.acls].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    records.push({ type: 'accessControlEntry', id, ...binding });
  }
  for (const [, quota] of [...image.clientQuotas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const [key, value] of quota.values) {
      records.push({ type: 'clientQuota', entity: quota.entity, key, value });
    }
  }
  for (const [name, level] of [...image.finalizedFeatures].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    records.push({ type: 'featureLevel', name, level });
  }
  return records;
}

export function encodeImageSnapshot(image: MetadataImage): Buffer {
  const writer = new Writer();
  writer.uint8(snapshotFormatVersion);
  recordListCodec.write(writer, imageToRecords(image));
  return writer.toBuffer();
}

/** Rebuilds the image; throws DecodeError on malformed bytes, MetadataInvariantError on bad content. */
export function decodeImageSnapshot(bytes: Buffer): MetadataImage {
  const reader = new Reader(bytes);
  const version = reader.uint8();
  if (version !== snapshotFormatVersion) throw new DecodeError(`unsupported snapshot format ${version}`);
  const records = recordListCodec.read(reader, snapshotRecordsMax);
  if (reader.remaining !== 0) throw new DecodeError(`${reader.remaining} trailing byte(s) after snapshot`);
  return applyRecords(MetadataImage.empty, records);
}
