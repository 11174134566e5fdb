// Partition assignors the group leader runs (eager protocol): Kafka's range and round robin. Each
// gets every member's subscription and the partition counts, and returns each member's partitions.

import type { MemberAssignment, MemberSubscription } from './consumer-protocol.js';
import type { KafkaJSAssigner } from './kafkajs-assigners.js';

export interface AssignmentInput {
  /** Member id -> what it subscribes to. */
  readonly members: ReadonlyMap<string, MemberSubscription>;
  /** Topic -> partition count, for every subscribed topic that exists. */
  readonly partitionCounts: ReadonlyMap<string, number>;
}

export interface PartitionAssigner {
  /** The protocol name the group agrees on; every member must offer it. */
  readonly name: string;
  /**
   * Cooperative (KIP-429): members keep what they are not told to give up, and a partition moving
   * between members is first only taken from its owner, then given in a second rebalance.
   */
  readonly cooperative?: boolean;
  assign(input: AssignmentInput): Map<string, MemberAssignment>;
}

/** What a consumer runs: one of ours, or a user's in kafkajs's shape (kafkajs-assigners.ts). */
export type ConsumerAssigner = PartitionAssigner | KafkaJSAssigner;

/** Only our cooperative-sticky is cooperative; kafkajs has no cooperative protocol. */
export function isCooperative(assigner: ConsumerAssigner): boolean {
  return 'cooperative' in assigner && assigner.cooperative === true;
}

function emptyAssignments(
  members: ReadonlyMap<string, MemberSubscription>,
): Map<string, Map<string, number[]>> {
  return new Map([...members.keys()].map((memberId) => [memberId, new Map<string, number[]>()]));
}

function add(
  assignments: Map<string, Map<string, number[]>>,
  memberId: string,
  topic: string,
  partition: number,
) {
  const topics = assignments.get(memberId)!;
  topics.set(topic, [...(topics.get(topic) ?? []), partition]);
}

/** Kafka's RangeAssignor: per topic, consecutive ranges to members in member id order. */
export function rangeAssigner(name = 'range'): PartitionAssigner {
  return {
    name,
    assign({ members, partitionCounts }) {
      const assignments = emptyAssignments(members);
      for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => a.localeCompare(b))) {
        const subscribers = [...members]
          .filter(([, subscription]) => subscription.topics.includes(topic))
          .map(([memberId]) => memberId)
          .sort();
        if (subscribers.length === 0) continue;
        const perMember = Math.floor(count / subscribers.length);
        const extra = count % subscribers.length;
        let next = 0;
        subscribers.forEach((memberId, index) => {
          const take = perMember + (index < extra ? 1 : 0);
          for (let partition = next; partition < next + take; partition++)
            add(assignments, memberId, topic, partition);
          next += take;
        });
      }
      return assignments;
    },
  };
}

/**
 * Kafka's RoundRobinAssignor: every topic-partition in order, each to the next member (in member id
 * order) that subscribes to its topic.
 */
export function roundRobinAssigner(name = 'roundrobin'): PartitionAssigner {
  return {
    name,
    assign({ members, partitionCounts }) {
      const assignments = emptyAssignments(members);
      const memberIds = [...members.keys()].sort();
      let cursor = 0;
      for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => a.localeCompare(b))) {
        for (let partition = 0; partition < count; partition++) {
          for (let tried = 0; tried < memberIds.length; tried++) {
            const memberId = memberIds[cursor % memberIds.length]!;
            cursor++;
            if (members.get(memberId)!.topics.includes(topic)) {
              add(assignments, memberId, topic, partition);
              break;
            }
          }
        }
      }
      return assignments;
    },
  };
}

/** Java's CooperativeStickyAssignor user data: the generation of the owned partitions, int32. */
export function encodeCooperativeStickyUserData(generation: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(generation);
  return bytes;
}

/**
 * The generation a member's owned partitions are from; -1 (Java's DEFAULT_GENERATION) when not
 * sent or not readable. Java writes the int32 alone; librdkafka's cooperative-sticky writes the
 * sticky assignor's user data version 1 (KIP-341: [topic:string [partition:int32]] generation:int32).
 */
export function cooperativeStickyGeneration(userData: Buffer | null): number {
  if (userData === null) return -1;
  if (userData.length === 4) return userData.readInt32BE(0);
  // KIP-341 version 1: walk the previous assignment; the generation is what follows it.
  let position = 0;
  const has = (bytes: number) => position + bytes <= userData.length;
  if (!has(4)) return -1;
  const topics = userData.readInt32BE(position);
  position += 4;
  for (let topic = 0; topic < topics; topic++) {
    if (!has(2)) return -1;
    position += 2 + Math.max(0, userData.readInt16BE(position));
    if (!has(4)) return -1;
    position += 4 + 4 * Math.max(0, userData.readInt32BE(position));
  }
  return position + 4 === userData.length ? userData.readInt32BE(position) : -1;
}

/**
 * Kafka's CooperativeStickyAssignor (AbstractStickyAssignor's rules, not its code):
 * - Ownership: each partition a member says it owns (subscription v1) stays its own, unless a
 *   member of a higher generation (the user data, Java's int32) claims it too; claimed by two members
 *   of the same highest generation, it is no one's (Java's partitionsWithMultiplePreviousOwners).
 * - Stickiness: every member keeps the partitions it owns; the unowned ones go, those with the
 *   fewest eligible members first, each to the eligible member holding fewest.
 * - Balance: then, while a member holds two partitions more than another member subscribed to one
 *   of them, one of those moves to the lesser member (one it was given this round rather than one
 *   it owned, where it can). With equal subscriptions that ends with max - min <= 1; with unequal
 *   ones, in Java's sense: no partition could move to a member eligible for it that holds fewer
 *   than its holder minus one. Each move lowers the sum of squared counts, so it ends, and a
 *   balanced group with unchanged members moves nothing.
 * - Cooperative (KIP-429): a partition going to a member other than its owner, or claimed by two
 *   members of one generation, goes to no one this round: its owners give it up, and the
 *   rebalance that follows hands it on.
 */
export function cooperativeStickyAssigner(name = 'cooperative-sticky'): PartitionAssigner {
  return {
    name,
    cooperative: true,
    assign({ members, partitionCounts }) {
      const memberIds = [...members.keys()].sort();
      const subscribes = (memberId: string, topic: string) => members.get(memberId)!.topics.includes(topic);
      const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
      const partitions = new Map<string, { topic: string; partition: number; eligible: string[] }>();
      for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => a.localeCompare(b))) {
        const eligible = memberIds.filter((memberId) => subscribes(memberId, topic));
        if (eligible.length === 0) continue;
        for (let partition = 0; partition < count; partition++) {
          partitions.set(key(topic, partition), { topic, partition, eligible });
        }
      }

      // Who owns what: the claim of the highest generation wins; a tie there leaves it no one's.
      const owner = new Map<string, { memberId: string; generation: number }>();
      const contested = new Set<string>();
      for (const memberId of memberIds) {
        const subscription = members.get(memberId)!;
        const generation = cooperativeStickyGeneration(subscription.userData);
        for (const [topic, owned] of subscription.ownedPartitions ?? []) {
          for (const partition of owned) {
            const partitionKey = key(topic, partition);
            // A member gives up a topic's partitions before it joins without the topic (Java's
            // onJoinPrepare; ours only adds topics): such a claim is void.
            if (!partitions.has(partitionKey) || !subscribes(memberId, topic)) continue;
            const other = owner.get(partitionKey);
            if (other === undefined || generation > other.generation) {
              owner.set(partitionKey, { memberId, generation });
              contested.delete(partitionKey);
            } else if (generation === other.generation && other.memberId !== memberId) {
              contested.add(partitionKey);
            }
          }
        }
      }

      const held = new Map<string, Set<string>>(memberIds.map((memberId) => [memberId, new Set()]));
      const place = (partitionKey: string, memberId: string) => held.get(memberId)!.add(partitionKey);
      const unowned: string[] = [];
      for (const partitionKey of partitions.keys()) {
        const current = owner.get(partitionKey);
        if (current !== undefined && !contested.has(partitionKey)) {
          place(partitionKey, current.memberId);
        } else {
          unowned.push(partitionKey);
        }
      }
      const count = (memberId: string) => held.get(memberId)!.size;
      const fewest = (candidates: readonly string[]) =>
        candidates.reduce((best, memberId) => (count(memberId) < count(best) ? memberId : best));
      // The partitions with the fewest eligible members first: the others have more places to go.
      unowned.sort((a, b) => partitions.get(a)!.eligible.length - partitions.get(b)!.eligible.length);
      for (const partitionKey of unowned) place(partitionKey, fewest(partitions.get(partitionKey)!.eligible));

      const ownedBy = (partitionKey: string, memberId: string) =>
        owner.get(partitionKey)?.memberId === memberId && !contested.has(partitionKey);
      // Partitions moved sideways once (see below): never again, so the balancing ends.
      const movedSideways = new Set<string>();
      for (;;) {
        let move: { partitionKey: string; from: string; to: string } | undefined;
        // The counts hold still until a move is chosen: one lookup per topic's subscribers.
        const fewestOf = new Map<readonly string[], string>();
        const target = (eligible: readonly string[]) => {
          let memberId = fewestOf.get(eligible);
          if (memberId === undefined) {
            memberId = fewest(eligible);
            fewestOf.set(eligible, memberId);
          }
          return memberId;
        };
        // From the member holding most, to the eligible member holding fewest.
        for (const from of [...memberIds].sort((a, b) => count(b) - count(a) || a.localeCompare(b))) {
          let stickyMove: typeof move;
          let sideways: typeof move;
          for (const partitionKey of held.get(from)!) {
            const to = target(partitions.get(partitionKey)!.eligible);
            const sticky = ownedBy(partitionKey, from);
            if (count(to) + 1 < count(from)) {
              if (!sticky) {
                move = { partitionKey, from, to };
                break;
              }
              stickyMove ??= { partitionKey, from, to };
            } else if (!sticky && count(to) + 1 === count(from) && !movedSideways.has(partitionKey)) {
              sideways ??= { partitionKey, from, to };
            }
          }
          if (move !== undefined) break;
          if (stickyMove !== undefined) {
            // Rather than take a member's own partition, move one it was given this round to a
            // member one below it (the holder drops by one, nobody rises above it): that may be
            // balance enough (Java's performReassignments looks for such chains too).
            if (sideways !== undefined) movedSideways.add(sideways.partitionKey);
            move = sideways ?? stickyMove;
            break;
          }
        }
        if (move === undefined) break;
        held.get(move.from)!.delete(move.partitionKey);
        place(move.partitionKey, move.to);
      }

      const assignments = emptyAssignments(members);
      for (const memberId of memberIds) {
        for (const partitionKey of held.get(memberId)!) {
          // Still someone else's (or claimed twice): it moves in the next rebalance, once given up.
          if (contested.has(partitionKey)) continue;
          const current = owner.get(partitionKey);
          if (current !== undefined && current.memberId !== memberId) continue;
          const { topic, partition } = partitions.get(partitionKey)!;
          add(assignments, memberId, topic, partition);
        }
      }
      for (const topics of assignments.values()) {
        for (const [topic, list] of topics)
          topics.set(
            topic,
            [...list].sort((a, b) => a - b),
          );
      }
      return assignments;
    },
  };
}

/**
 * kafkajs's names. `roundRobin` speaks under kafkajs's protocol name, so it shares a group with
 * kafkajs members; `javaRoundRobin` and `range` under Java's and librdkafka's names.
 */
export const PartitionAssigners = {
  roundRobin: roundRobinAssigner('RoundRobinAssigner'),
  javaRoundRobin: roundRobinAssigner('roundrobin'),
  range: rangeAssigner('range'),
  cooperativeSticky: cooperativeStickyAssigner('cooperative-sticky'),
};
