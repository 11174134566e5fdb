// The server-side assignors of KIP-848 consumer groups (`group.consumer.assignors`): given each
// member's subscribed topics and the previous target assignment, a new target assignment in which
// every partition of a subscribed topic belongs to exactly one member that subscribes to it.
//   - `uniform` (the default): balanced and sticky. A partition stays with its previous owner while
//     that owner subscribes to its topic and holds fewer than its share; the rest go, in topic and
//     partition order, to the subscriber holding the fewest (ties: lowest member id). This is the
//     outcome Kafka's UniformAssignor aims for (balance, then stickiness), not its exact algorithm.
//   - `range`: per topic, the subscribers sorted by member id each take a contiguous range, the first
//     `partitions % subscribers` one more (Kafka's RangeAssignor; with equal partition counts, topics
//     are co-partitioned).
// Pure and deterministic: the same input gives the same output.

import { invariant } from '@gregor/ground';

/** A topic the assignor may hand out: its id (32 hex digits) and partition count. */
export interface AssignableTopic {
  readonly topicId: string;
  readonly name: string;
  readonly partitionCount: number;
}

export interface AssignorMember {
  readonly memberId: string;
  /** Ids of the topics it subscribes to that exist. */
  readonly subscribedTopicIds: ReadonlySet<string>;
}

/** topic id → partitions, sorted ascending; topics with no partitions are absent. */
export type TopicAssignment = ReadonlyMap<string, readonly number[]>;

export type AssignorName = 'uniform' | 'range';

export function isAssignorName(name: string): name is AssignorName {
  return name === 'uniform' || name === 'range';
}

export interface AssignmentInput {
  readonly members: readonly AssignorMember[];
  readonly topics: ReadonlyMap<string, AssignableTopic>;
  /** The previous target, by member id (stickiness). */
  readonly previous: ReadonlyMap<string, TopicAssignment>;
}

export function assign(assignor: AssignorName, input: AssignmentInput): Map<string, TopicAssignment> {
  const result = assignor === 'range' ? rangeAssign(input) : uniformAssign(input);
  checkAssignment(input, result);
  return result;
}

function sortedMembers(members: readonly AssignorMember[]): AssignorMember[] {
  return [...members].sort((a, b) => compare(a.memberId, b.memberId));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Topic ids anyone subscribes to, in name order (then id, for equal names). */
function subscribedTopics(input: AssignmentInput): AssignableTopic[] {
  const ids = new Set<string>();
  for (const member of input.members) for (const id of member.subscribedTopicIds) ids.add(id);
  return [...ids]
    .flatMap((id) => {
      const topic = input.topics.get(id);
      return topic === undefined ? [] : [topic];
    })
    .sort((a, b) => compare(a.name, b.name) || compare(a.topicId, b.topicId));
}

function freeze(byMember: Map<string, Map<string, number[]>>): Map<string, TopicAssignment> {
  const result = new Map<string, TopicAssignment>();
  for (const [memberId, topics] of byMember) {
    const frozen = new Map<string, readonly number[]>();
    for (const [topicId, partitions] of topics) {
      if (partitions.length > 0)
        frozen.set(
          topicId,
          [...partitions].sort((a, b) => a - b),
        );
    }
    result.set(memberId, frozen);
  }
  return result;
}

function emptyResult(members: readonly AssignorMember[]): Map<string, Map<string, number[]>> {
  return new Map(members.map((m) => [m.memberId, new Map<string, number[]>()]));
}

function give(
  result: Map<string, Map<string, number[]>>,
  memberId: string,
  topicId: string,
  p: number,
): void {
  const topics = result.get(memberId)!;
  const partitions = topics.get(topicId) ?? [];
  partitions.push(p);
  topics.set(topicId, partitions);
}

function rangeAssign(input: AssignmentInput): Map<string, TopicAssignment> {
  const members = sortedMembers(input.members);
  const result = emptyResult(members);
  for (const topic of subscribedTopics(input)) {
    const subscribers = members.filter((m) => m.subscribedTopicIds.has(topic.topicId));
    const base = Math.floor(topic.partitionCount / subscribers.length);
    const extra = topic.partitionCount % subscribers.length;
    let next = 0;
    subscribers.forEach((member, index) => {
      const count = base + (index < extra ? 1 : 0);
      for (let i = 0; i < count; i++) give(result, member.memberId, topic.topicId, next++);
    });
  }
  return freeze(result);
}

function uniformAssign(input: AssignmentInput): Map<string, TopicAssignment> {
  const members = sortedMembers(input.members);
  const result = emptyResult(members);
  const counts = new Map(members.map((m) => [m.memberId, 0]));
  const topics = subscribedTopics(input);
  // Each member's share: its subscribed partitions spread over everyone subscribing to them, rounded
  // up (exact for the common case of one subscription shared by all).
  const share = new Map<string, number>();
  for (const member of members) {
    let fraction = 0;
    for (const topic of topics) {
      if (!member.subscribedTopicIds.has(topic.topicId)) continue;
      const subscribers = members.filter((m) => m.subscribedTopicIds.has(topic.topicId)).length;
      fraction += topic.partitionCount / subscribers;
    }
    share.set(member.memberId, Math.ceil(fraction - 1e-9));
  }
  const owner = new Map<string, string>();
  const key = (topicId: string, p: number): string => `${topicId}:${p}`;
  // Stickiness: previous owners keep what they still subscribe to, up to their share.
  for (const member of members) {
    const previous = input.previous.get(member.memberId);
    if (previous === undefined) continue;
    for (const topic of topics) {
      if (!member.subscribedTopicIds.has(topic.topicId)) continue;
      for (const p of previous.get(topic.topicId) ?? []) {
        if (p >= topic.partitionCount || owner.has(key(topic.topicId, p))) continue;
        if (counts.get(member.memberId)! >= share.get(member.memberId)!) break;
        owner.set(key(topic.topicId, p), member.memberId);
        counts.set(member.memberId, counts.get(member.memberId)! + 1);
        give(result, member.memberId, topic.topicId, p);
      }
    }
  }
  for (const topic of topics) {
    const subscribers = members.filter((m) => m.subscribedTopicIds.has(topic.topicId));
    for (let p = 0; p < topic.partitionCount; p++) {
      if (owner.has(key(topic.topicId, p))) continue;
      let best = subscribers[0]!;
      for (const candidate of subscribers) {
        if (counts.get(candidate.memberId)! < counts.get(best.memberId)!) best = candidate;
      }
      owner.set(key(topic.topicId, p), best.memberId);
      counts.set(best.memberId, counts.get(best.memberId)! + 1);
      give(result, best.memberId, topic.topicId, p);
    }
  }
  return freeze(result);
}

/** Every subscribed partition has exactly one owner, who subscribes to its topic. */
function checkAssignment(input: AssignmentInput, result: ReadonlyMap<string, TopicAssignment>): void {
  const owners = new Map<string, string>();
  const byId = new Map(input.members.map((m) => [m.memberId, m]));
  for (const [memberId, topics] of result) {
    for (const [topicId, partitions] of topics) {
      invariant(
        byId.get(memberId)?.subscribedTopicIds.has(topicId) === true,
        'assigned an unsubscribed topic',
      );
      for (const p of partitions) {
        const k = `${topicId}:${p}`;
        invariant(!owners.has(k), () => `partition ${k} assigned twice`);
        owners.set(k, memberId);
      }
    }
  }
  for (const topic of subscribedTopics(input)) {
    for (let p = 0; p < topic.partitionCount; p++) {
      invariant(owners.has(`${topic.topicId}:${p}`), () => `partition ${topic.name}-${p} left unassigned`);
    }
  }
}
