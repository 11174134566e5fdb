// Kafka's topic name rules (`org.apache.kafka.common.internals.Topic`).

/** Kafka's limit: a partition directory `<topic>-<partition>` must fit a 255-byte file name. */
export const topicNameLengthMax = 249;

const legalTopicName = /^[a-zA-Z0-9._-]+$/;

/** KRaft's metadata log topic: its directory `__cluster_metadata-0` holds the Raft store on every node. */
export const metadataTopicName = '__cluster_metadata';

/** Why `name` is not a legal topic name, or null if it is. */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name cannot be "${name}"`;
  if (name.length > topicNameLengthMax) {
    return `topic name is ${name.length} characters, more than the ${topicNameLengthMax} allowed`;
  }
  if (!legalTopicName.test(name)) {
    return `topic name "${name}" has characters outside [a-zA-Z0-9._-]`;
  }
  if (name === metadataTopicName) return `topic name "${name}" is reserved for the metadata log`;
  return null;
}

/**
 * Kafka refuses `a.b` beside `a_b`: metric names replace '.' with '_', so the two would share metrics.
 */
export function topicNameCollisionKey(name: string): string {
  return name.replaceAll('.', '_');
}
