// Topic ids: the metadata log keeps Kafka's text form (22 characters of base64url, as kafka-topics.sh
// prints them); the protocol codec carries a uuid field as 32 lowercase hex digits.

import { type MetadataImage, uuidFromBytes, uuidToBytes } from '@gregor/metadata';
import { zeroUuid } from '@gregor/protocol';

export function topicIdToWire(topicId: string): string {
  return uuidToBytes(topicId).toString('hex');
}

/** The metadata form of a wire topic id, or null if it is not 16 bytes of hex. */
export function topicIdFromWire(hex: string): string | null {
  if (!/^[0-9a-f]{32}$/.test(hex)) return null;
  return uuidFromBytes(Buffer.from(hex, 'hex'));
}

/**
 * Resolves wire topic ids (32 hex digits) to names, and names back to wire ids, in one metadata
 * image: the APIs that name topics by id (OffsetCommit/OffsetFetch v10, Produce v13) resolve them
 * first, so that authorization and the handler keep working on names, and answer with ids again.
 */
export class TopicIdResolver {
  private readonly idsByName = new Map<string, string>();

  constructor(private readonly image: MetadataImage) {}

  /** The topic's name, or undefined for an id the image does not know. */
  nameOf(wireTopicId: string): string | undefined {
    const topicId = topicIdFromWire(wireTopicId);
    const name = topicId === null ? undefined : this.image.topicById(topicId)?.name;
    if (name !== undefined) this.idsByName.set(name, wireTopicId);
    return name;
  }

  /**
   * Splits topics named by wire id into those the image knows, each given its name, and those it
   * does not know (never created, or deleted), in request order.
   */
  resolve<T extends { readonly topicId: string }>(
    topics: readonly T[],
  ): { known: (T & { name: string })[]; unknown: T[] } {
    const known: (T & { name: string })[] = [];
    const unknown: T[] = [];
    for (const topic of topics) {
      const name = this.nameOf(topic.topicId);
      if (name === undefined) unknown.push(topic);
      else known.push({ ...topic, name });
    }
    return { known, unknown };
  }

  /** The topic's wire id, or undefined for a name the image does not know. */
  idOf(name: string): string | undefined {
    const known = this.idsByName.get(name);
    if (known !== undefined) return known;
    const topicId = this.image.topic(name)?.topicId;
    return topicId === undefined ? undefined : topicIdToWire(topicId);
  }

  /** Topics the handler answered by name, each given its wire id (the zero id for a name the image does not know). */
  withIds<T extends { readonly name?: string | null }>(topics: readonly T[]): (T & { topicId: string })[] {
    return topics.map((topic) => ({ ...topic, topicId: this.idOf(topic.name ?? '') ?? zeroUuid }));
  }
}

/**
 * The answers for topics named by ids the image does not know, in request order: the empty name,
 * the id asked for, and `partitionAnswer` (UNKNOWN_TOPIC_ID in the API's own shape) for each
 * partition asked for.
 */
export function unknownTopicIdAnswers<T extends { readonly topicId: string }, P>(
  unknown: readonly T[],
  partitionIndexes: (topic: T) => readonly number[],
  partitionAnswer: (partitionIndex: number) => P,
): { name: string; topicId: string; partitions: P[] }[] {
  return unknown.map((topic) => ({
    name: '',
    topicId: topic.topicId,
    partitions: partitionIndexes(topic).map(partitionAnswer),
  }));
}
