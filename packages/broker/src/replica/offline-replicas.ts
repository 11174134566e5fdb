// The replicas of this broker whose log dir failed (Kafka's HostedPartition.Offline): they serve
// nothing (KAFKA_STORAGE_ERROR), follow no leader and stay offline until the process restarts. The
// broker reports each to the controller until the metadata lists it as offline.

import { isReplicaOffline, type MetadataImage, type ReplicaOnBroker } from '@gregor/metadata';

export interface OfflineReplica extends ReplicaOnBroker {
  /** The partition key, `<topic>-<index>`. */
  readonly key: string;
}

export class OfflineReplicas {
  private readonly byKey = new Map<string, OfflineReplica>();

  add(replica: OfflineReplica): void {
    this.byKey.set(replica.key, replica);
  }

  /** Whether `key` is offline here as this topic id (a topic made again under the name is not). */
  has(key: string, topicId?: string): boolean {
    const replica = this.byKey.get(key);
    return replica !== undefined && (topicId === undefined || replica.topicId === topicId);
  }

  delete(key: string): void {
    this.byKey.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Up to `max` offline replicas the image does not list as offline on `brokerId` yet. */
  unreported(image: MetadataImage, brokerId: number, max: number): ReplicaOnBroker[] {
    const broker = image.broker(brokerId);
    const unreported: ReplicaOnBroker[] = [];
    for (const { topicId, partitionIndex } of this.byKey.values()) {
      if (unreported.length >= max) break;
      if (image.topicById(topicId)?.partitions[partitionIndex] === undefined) continue;
      if (!isReplicaOffline(broker, topicId, partitionIndex)) unreported.push({ topicId, partitionIndex });
    }
    return unreported;
  }
}
