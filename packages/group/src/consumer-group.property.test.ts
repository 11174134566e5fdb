// Random runs of KIP-848 consumers (joins, heartbeats with or without their owned partitions,
// leaves, static restarts, crashes that let sessions expire, clock moves, topics growing, appends
// completing late or refused, coordinator failover by reloading the log) against the coordinator,
// checking after every step:
//   - no partition is consumed by two live consumers at once (what the simulated clients believe
//     they own, which is stricter than the coordinator's own bookkeeping);
//   - the group epoch never goes back once written, nor does a consumer's epoch between two rejoins;
//   - the coordinator's invariants (ConsumerGroup.checkInvariants);
//   - with no append outstanding, the group in memory is the one its log loads into (a refused
//     append's change was undone);
// and, once every live consumer has heartbeated a few quiet rounds, that every subscribed partition
// is owned by one of them and the group is Stable. fast-check prints the seed and path of a failure;
// replay it with CONSUMER_GROUP_PROPERTY_SEED=<seed>.

import { SeededRandom } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AssignableTopic } from './consumer-assignors.js';
import { SimulatedConsumer, topic, topicsOf } from './testing/consumer-group-client.js';
import { Harness } from './testing/coordinator-harness.js';

const propertySeed = Number(process.env.CONSUMER_GROUP_PROPERTY_SEED ?? 20261206);
const group = 'g';
const consumerCount = 4;
const quietRoundsMax = 8;

type Op =
  | { kind: 'beat'; consumer: number; full: boolean }
  | { kind: 'leave'; consumer: number }
  | { kind: 'crash'; consumer: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'grow'; topic: number }
  | { kind: 'subscribe'; consumer: number; topics: number[] }
  | { kind: 'holdAppends' }
  | { kind: 'releaseAppends' }
  | { kind: 'refuseAppend' }
  | { kind: 'failover' };

const consumerArb = fc.integer({ min: 0, max: consumerCount - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({ kind: fc.constant('beat' as const), consumer: consumerArb, full: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), consumer: consumerArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), consumer: consumerArb }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 20_000 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('grow' as const), topic: fc.integer({ min: 0, max: 1 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      consumer: consumerArb,
      topics: fc.subarray([0, 1], { minLength: 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'holdAppends' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'releaseAppends' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'refuseAppend' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'failover' as const }) },
);

function run(ops: readonly Op[], seed: number, assignor: 'uniform' | 'range'): void {
  const config = { consumerAssignors: [assignor] };
  let h = new Harness(config, new SeededRandom(seed));
  const topicList: AssignableTopic[] = [topic('t0', 3), topic('t1', 2)];
  let image = topicsOf(...topicList);
  const consumers = Array.from(
    { length: consumerCount },
    (_, i) => new SimulatedConsumer(`m${i}`, group, ['t0'], i === 0 ? 'static-0' : null),
  );
  /** Consumers that crashed stop counting as owners (their process is gone). */
  const live = new Set(consumers.map((_, i) => i));
  let groupEpochSeen = 0;

  const check = (): void => {
    const owners = new Map<string, number>();
    for (const i of live) {
      for (const [topicId, partitions] of consumers[i]!.owned) {
        for (const p of partitions) {
          const key = `${topicId}:${p}`;
          expect(owners.get(key), `partition ${key} owned by m${owners.get(key)} and m${i}`).toBeUndefined();
          owners.set(key, i);
        }
      }
    }
    const state = h.coordinator.getConsumerGroup(group);
    // An empty group is deleted by the offset expiration cycle; a new one starts its epochs again.
    if (state === undefined && h.outstanding.length === 0) groupEpochSeen = 0;
    if (state !== undefined) {
      state.checkInvariants();
      // An epoch whose write is still out may be undone with it: only the written ones must not go back.
      if (h.outstanding.length === 0) {
        expect(state.groupEpoch).toBeGreaterThanOrEqual(groupEpochSeen);
        groupEpochSeen = state.groupEpoch;
      }
    }
    if (h.outstanding.length === 0) {
      expect(summary(state)).toEqual(
        summary(new Harness(config, new SeededRandom(seed + 2), h.logs).coordinator.getConsumerGroup(group)),
      );
    }
    for (const consumer of consumers) {
      const seen = consumer.epochsSeen;
      if (seen.length >= 2) expect(seen.at(-1)!).toBeGreaterThanOrEqual(seen.at(-2)!);
    }
  };
  const beat = (i: number, full: boolean): void => {
    const consumer = consumers[i]!;
    // A (re)join starts a new membership, whose epochs are checked from here on.
    if (!consumer.joined) consumer.epochsSeen.length = 0;
    consumer.beat(h, image, full);
  };
  const advance = (ms: number): void => {
    // Live consumers heartbeat within their session, as a client's heartbeat thread does.
    for (let left = ms; left > 0; left -= 5_000) {
      h.advance(Math.min(left, 5_000));
      for (const i of live) if (consumers[i]!.joined) beat(i, true);
    }
  };

  for (const op of ops) {
    switch (op.kind) {
      case 'beat':
        live.add(op.consumer);
        beat(op.consumer, op.full);
        break;
      case 'leave': {
        const consumer = consumers[op.consumer]!;
        if (consumer.joined) consumer.leave(h, image, consumer.instanceId !== null ? -2 : -1);
        consumer.epochsSeen.length = 0;
        break;
      }
      case 'crash': {
        const consumer = consumers[op.consumer]!;
        live.delete(op.consumer);
        consumer.owned.clear();
        consumer.target.clear();
        consumer.joined = false;
        consumer.epochsSeen.length = 0;
        break;
      }
      case 'advance':
        advance(op.ms);
        break;
      case 'grow': {
        const grown = topicList[op.topic]!;
        topicList[op.topic] = { ...grown, partitionCount: grown.partitionCount + 1 };
        image = topicsOf(...topicList);
        break;
      }
      case 'subscribe':
        consumers[op.consumer]!.subscription = op.topics.map((t) => topicList[t]!.name);
        break;
      case 'holdAppends':
        h.autoAppend = false;
        break;
      case 'releaseAppends':
        h.autoAppend = true;
        while (h.outstanding.length > 0) h.completeAppend(0);
        break;
      case 'refuseAppend':
        // The oldest write is refused (min.insync.replicas not met): none of its records are in the log.
        if (h.outstanding.length > 0) h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
        break;
      case 'failover': {
        // The log as replicated so far is what the next coordinator loads; writes still out are lost
        // with the old one, whose held heartbeats its clients then retry elsewhere.
        h = new Harness(config, new SeededRandom(seed + 1), h.logs);
        const loaded = h.coordinator.getConsumerGroup(group);
        if (loaded !== undefined) groupEpochSeen = Math.min(groupEpochSeen, loaded.groupEpoch);
        break;
      }
    }
    check();
  }

  // Quiet: appends flow, every live consumer heartbeats with what it owns until nothing changes.
  h.autoAppend = true;
  while (h.outstanding.length > 0) h.completeAppend(0);
  // Members that crashed or left as static members hold their partitions until their session ends.
  advance(50_000);
  for (let round = 0; round < quietRoundsMax; round++) {
    for (const i of live) beat(i, true);
    check();
  }
  const members = [...live].filter((i) => consumers[i]!.joined);
  if (members.length === 0) return;
  const state = h.coordinator.getConsumerGroup(group)!;
  expect(state.state).toBe('Stable');
  const subscribed = new Set(members.flatMap((i) => consumers[i]!.subscription));
  for (const t of topicList) {
    if (!subscribed.has(t.name)) continue;
    for (let p = 0; p < t.partitionCount; p++) {
      const owner = members.find((i) => consumers[i]!.owned.get(t.topicId)?.includes(p));
      expect(owner, `${t.name}-${p} has no owner`).toBeDefined();
    }
  }
}

/** What a group's records say: its epoch and each member's epoch and partitions. */
function summary(state: ReturnType<Harness['coordinator']['getConsumerGroup']>) {
  if (state === undefined) return null;
  return {
    groupEpoch: state.groupEpoch,
    members: [...state.members.values()]
      .map((m) => ({ id: m.memberId, epoch: m.memberEpoch, assigned: [...m.assigned] }))
      .sort((x, y) => (x.id < y.id ? -1 : 1)),
  };
}

describe('KIP-848 consumer groups under random clients, time, appends and failovers', () => {
  for (const assignor of ['uniform', 'range'] as const) {
    it(`never gives a partition to two live consumers, keeps epochs monotonic, ends with every partition owned (${assignor})`, () => {
      fc.assert(
        fc.property(
          fc.array(opArb, { minLength: 1, maxLength: 60 }),
          fc.integer({ min: 1, max: 1_000_000 }),
          (ops, seed) => run(ops, seed, assignor),
        ),
        { numRuns: 200, seed: propertySeed },
      );
    });
  }
});
