import { describe, expect, it } from 'vitest';
import { ControllerErrorCode as E } from './errors.js';
import { listPartitionReassignments } from './partition-reassignment.js';
import { ControllerHarness } from './testing/controller-harness.js';

/** Brokers 1-4 active; topic t with partition 0 on `replicas` (leader first), ISR all of them. */
function setUp(replicas: readonly number[] = [1, 2], configs: Record<string, string> = {}) {
  const h = new ControllerHarness();
  h.startBrokers([1, 2, 3, 4]);
  h.ok(
    h.controller.createTopic(
      {
        name: 't',
        numPartitions: -1,
        replicationFactor: -1,
        configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
        assignments: [{ partitionIndex: 0, brokerIds: replicas }],
      },
      { validateOnly: false },
    ),
  );
  return h;
}

function reassign(
  h: ControllerHarness,
  replicas: readonly number[] | null,
  options: { topic?: string; partitionIndex?: number; allowReplicationFactorChange?: boolean } = {},
) {
  const results = h.ok(
    h.controller.alterPartitionReassignments({
      topics: [
        {
          name: options.topic ?? 't',
          partitions: [{ partitionIndex: options.partitionIndex ?? 0, replicas }],
        },
      ],
      allowReplicationFactorChange: options.allowReplicationFactorChange ?? true,
    }),
  );
  expect(results).toHaveLength(1);
  return results[0]!;
}

describe('partition reassignment', () => {
  it('adds the target replicas beside the current ones, and lists the reassignment', () => {
    const h = setUp([1, 2]);
    const before = h.partition('t', 0);
    expect(reassign(h, [3, 4])).toMatchObject({ errorCode: E.NONE, errorMessage: null });
    expect(h.partition('t', 0)).toMatchObject({
      replicas: [3, 4, 1, 2],
      addingReplicas: [3, 4],
      removingReplicas: [1, 2],
      isr: [1, 2],
      leader: before.leader,
      leaderEpoch: before.leaderEpoch,
      partitionEpoch: before.partitionEpoch + 1,
    });
    expect(listPartitionReassignments(h.committed, null)).toEqual([
      {
        topicName: 't',
        partitionIndex: 0,
        replicas: [3, 4, 1, 2],
        addingReplicas: [3, 4],
        removingReplicas: [1, 2],
      },
    ]);
    expect(listPartitionReassignments(h.committed, [{ topicName: 't', partitionIndexes: [1] }])).toEqual([]);
    expect(listPartitionReassignments(h.committed, [{ topicName: 'nope', partitionIndexes: null }])).toEqual(
      [],
    );
  });

  it('completes once every added replica is in the ISR, electing a target leader when the old one goes', () => {
    const h = setUp([1, 2]);
    reassign(h, [3, 2]);
    expect(h.partition('t', 0)).toMatchObject({
      replicas: [3, 2, 1],
      addingReplicas: [3],
      removingReplicas: [1],
    });
    // The leader (1) reports 3 caught up: the ISR change completes the move in the same batch.
    const answer = h.ok(h.alterIsr('t', 0, [1, 2, 3]));
    const after = h.partition('t', 0);
    expect(after).toMatchObject({
      replicas: [3, 2],
      isr: [2, 3],
      addingReplicas: [],
      removingReplicas: [],
    });
    // 1 was removed, so the first in-sync target replica leads, in a new leader epoch.
    expect(after.leader).toBe(3);
    expect(answer).toMatchObject({ leader: 3, leaderEpoch: after.leaderEpoch });
    expect(listPartitionReassignments(h.committed, null)).toEqual([]);
  });

  it('keeps a leader that stays in the target', () => {
    const h = setUp([1, 2]);
    reassign(h, [1, 3]);
    const leaderEpoch = h.partition('t', 0).leaderEpoch;
    h.ok(h.alterIsr('t', 0, [1, 2, 3]));
    expect(h.partition('t', 0)).toMatchObject({ replicas: [1, 3], isr: [1, 3], leader: 1, leaderEpoch });
  });

  it('waits while only some added replicas caught up', () => {
    const h = setUp([1, 2]);
    reassign(h, [3, 4]);
    h.ok(h.alterIsr('t', 0, [1, 2, 3]));
    expect(h.partition('t', 0)).toMatchObject({
      replicas: [3, 4, 1, 2],
      isr: [1, 2, 3],
      addingReplicas: [3, 4],
      removingReplicas: [1, 2],
      leader: 1,
    });
    h.ok(h.alterIsr('t', 0, [1, 2, 3, 4]));
    expect(h.partition('t', 0)).toMatchObject({
      replicas: [3, 4],
      isr: [3, 4],
      leader: 3,
      addingReplicas: [],
    });
  });

  it('completes at once when the target only removes in-sync replicas', () => {
    const h = setUp([1, 2, 3]);
    reassign(h, [2, 3]);
    expect(h.partition('t', 0)).toMatchObject({
      replicas: [2, 3],
      isr: [2, 3],
      leader: 2,
      removingReplicas: [],
    });
  });

  it('never completes below min.insync.replicas of caught-up target replicas', () => {
    // 2 fell out of the ISR; removing 1 would leave the ISR at {3} alone, below min.insync.replicas=2.
    const h = setUp([1, 2], { 'min.insync.replicas': '2' });
    h.ok(h.alterIsr('t', 0, [1]));
    reassign(h, [2, 3]);
    h.ok(h.alterIsr('t', 0, [1, 3]));
    expect(h.partition('t', 0)).toMatchObject({ replicas: [2, 3, 1], isr: [1, 3], removingReplicas: [1] });
    // Once 2 is back in sync, the target has two caught-up replicas and the move completes.
    h.ok(h.alterIsr('t', 0, [1, 2, 3]));
    expect(h.partition('t', 0)).toMatchObject({ replicas: [2, 3], isr: [2, 3], leader: 2 });
  });

  it("takes the cluster's min.insync.replicas when the topic sets none", () => {
    const h = new ControllerHarness({ minInsyncReplicas: 2 });
    h.startBrokers([1, 2, 3]);
    h.ok(
      h.controller.createTopic(
        {
          name: 't',
          numPartitions: -1,
          replicationFactor: -1,
          configs: [],
          assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
        },
        { validateOnly: false },
      ),
    );
    h.ok(h.alterIsr('t', 0, [1]));
    reassign(h, [2, 3]);
    h.ok(h.alterIsr('t', 0, [1, 3]));
    expect(h.partition('t', 0).removingReplicas).toEqual([1]);
    h.ok(h.alterIsr('t', 0, [1, 2, 3]));
    expect(h.partition('t', 0)).toMatchObject({ replicas: [2, 3], isr: [2, 3] });
  });

  it('cancels back to the original replicas, dropping added ones from the ISR', () => {
    const h = setUp([1, 2]);
    reassign(h, [3, 4]);
    h.ok(h.alterIsr('t', 0, [1, 2, 3]));
    expect(reassign(h, null)).toMatchObject({ errorCode: E.NONE });
    expect(h.partition('t', 0)).toMatchObject({
      replicas: [1, 2],
      isr: [1, 2],
      leader: 1,
      addingReplicas: [],
      removingReplicas: [],
    });
  });

  it('cancelling hands leadership back to an original replica when an added one led', () => {
    const h = setUp([1, 2]);
    reassign(h, [3, 4]);
    h.ok(h.alterIsr('t', 0, [1, 2, 3]));
    // A preferred election moves leadership to 3, first of the replica set.
    h.ok(h.controller.electLeaders('preferred', [{ topicName: 't', partitionIndex: 0 }]));
    expect(h.partition('t', 0).leader).toBe(3);
    reassign(h, null);
    expect(h.partition('t', 0)).toMatchObject({ replicas: [1, 2], isr: [1, 2], leader: 1 });
  });

  it('cancelling is refused when only added replicas are left in the ISR', () => {
    const h = setUp([1, 2]);
    reassign(h, [3, 4]);
    h.ok(h.alterIsr('t', 0, [1, 2, 3]));
    // The original replicas shut down: 3, an added replica (first in the replica order), takes over.
    h.heartbeat(1, { wantShutDown: true });
    expect(h.partition('t', 0)).toMatchObject({ leader: 3, isr: [2, 3] });
    h.heartbeat(2, { wantShutDown: true });
    expect(h.partition('t', 0)).toMatchObject({ leader: 3, isr: [3] });
    // Reverting would leave no original replica in the ISR: refused, as Kafka refuses it.
    expect(reassign(h, null)).toMatchObject({ errorCode: E.INVALID_REPLICA_ASSIGNMENT });
  });

  it('answers Kafka error codes for bad requests, each partition on its own', () => {
    const h = setUp([1, 2]);
    expect(reassign(h, null).errorCode).toBe(E.NO_REASSIGNMENT_IN_PROGRESS);
    expect(reassign(h, []).errorCode).toBe(E.INVALID_REPLICA_ASSIGNMENT);
    expect(reassign(h, [3, 3]).errorCode).toBe(E.INVALID_REPLICA_ASSIGNMENT);
    expect(reassign(h, [3, 9]).errorMessage).toBe(
      'The manual partition assignment includes broker 9, but no such broker is registered.',
    );
    expect(reassign(h, [3], { partitionIndex: 5 }).errorCode).toBe(E.UNKNOWN_TOPIC_OR_PARTITION);
    expect(reassign(h, [3], { topic: 'nope' }).errorCode).toBe(E.UNKNOWN_TOPIC_OR_PARTITION);
    expect(reassign(h, [3], { allowReplicationFactorChange: false }).errorCode).toBe(
      E.INVALID_REPLICATION_FACTOR,
    );
    // Nothing of the refused ones was recorded.
    expect(h.partition('t', 0)).toMatchObject({ replicas: [1, 2], addingReplicas: [], removingReplicas: [] });
    const mixed = h.ok(
      h.controller.alterPartitionReassignments({
        topics: [
          {
            name: 't',
            partitions: [
              { partitionIndex: 0, replicas: [2, 3] },
              { partitionIndex: 7, replicas: [2, 3] },
            ],
          },
        ],
        allowReplicationFactorChange: true,
      }),
    );
    expect(mixed.map((result) => result.errorCode)).toEqual([E.NONE, E.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(h.partition('t', 0).addingReplicas).toEqual([3]);
  });

  it('a new target replaces one in progress, removing added replicas it drops', () => {
    const h = setUp([1, 2]);
    reassign(h, [3, 2]);
    reassign(h, [4, 2]);
    expect(h.partition('t', 0)).toMatchObject({
      replicas: [4, 2, 3, 1],
      addingReplicas: [4],
      removingReplicas: [3, 1],
    });
  });

  it('a fenced added replica never completes the move; the partition keeps its leader', () => {
    const h = setUp([1, 2]);
    reassign(h, [3, 2]);
    h.heartbeat(3, { wantShutDown: true });
    // 3 cannot join the ISR while shut down (INELIGIBLE_REPLICA), so the old replicas stay.
    expect(h.fail(h.alterIsr('t', 0, [1, 2, 3])).errorCode).toBe(E.INELIGIBLE_REPLICA);
    expect(h.partition('t', 0)).toMatchObject({ replicas: [3, 2, 1], isr: [1, 2], leader: 1 });
  });

  it('moving a replica off a failed log dir forgets its offline marker, and completes on a fence', () => {
    const h = setUp([1, 2], { 'unclean.leader.election.enable': 'true' });
    const topicId = h.committed.topic('t')!.topicId;
    h.heartbeat(2, { offlineLogDirs: ['/data'], offlineReplicas: [{ topicId, partitionIndex: 0 }] });
    expect(h.partition('t', 0).isr).toEqual([1]);
    reassign(h, [1, 3]);
    h.ok(h.alterIsr('t', 0, [1, 3]));
    expect(h.partition('t', 0)).toMatchObject({ replicas: [1, 3], isr: [1, 3] });
    expect(h.committed.broker(2)!.offlineReplicas.size).toBe(0);
    // A partition whose only in-sync replica is fenced gets the added replica by unclean election:
    // that change completes the move too.
    reassign(h, [4]);
    h.heartbeat(1, { wantShutDown: true });
    h.heartbeat(3, { wantShutDown: true });
    expect(h.partition('t', 0)).toMatchObject({ replicas: [4], isr: [4], leader: 4, addingReplicas: [] });
  });

  it('survives a controller failover and a snapshot of the image', () => {
    const h = setUp([1, 2]);
    reassign(h, [3, 2]);
    h.failover(3001);
    h.ok(h.alterIsr('t', 0, [1, 2, 3]));
    expect(h.partition('t', 0)).toMatchObject({ replicas: [3, 2], isr: [2, 3], leader: 3 });
  });
});
