import { SeededRandom } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { assign } from './consumer-assignors.js';
import {
  consumerGroupMetadataRecord,
  consumerMemberAssignmentRecord,
  consumerMemberMetadataRecord,
  decodeConsumerGroupRecord,
} from './consumer-group-records.js';
import type { OffsetCommitRequest } from './messages.js';
import {
  heartbeat,
  partitionsOf,
  rebalanceTimeoutMs,
  SimulatedConsumer,
  topic,
  topicsOf,
} from './testing/consumer-group-client.js';
import { Harness } from './testing/coordinator-harness.js';

const orders = topic('orders', 4);
const topics = topicsOf(orders);
const group = 'g';

function join(h: Harness, memberId: string, extra: object = {}) {
  return heartbeat(h, topics, {
    groupId: group,
    memberId,
    memberEpoch: 0,
    rebalanceTimeoutMs,
    subscribedTopicNames: ['orders'],
    topicPartitions: [],
    ...extra,
  })!;
}

let nextCommitId = 900_000;

function commit(
  h: Harness,
  memberId: string,
  memberEpoch: number,
  apiVersion?: number,
  partition = 0,
  topicId?: string,
): number {
  const request: OffsetCommitRequest = {
    ...(apiVersion === undefined ? {} : { apiVersion }),
    groupId: group,
    generationId: memberEpoch,
    memberId,
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: 'orders',
        ...(topicId === undefined ? {} : { topicId }),
        partitions: [
          {
            partitionIndex: partition,
            committedOffset: 5n,
            committedLeaderEpoch: -1,
            committedMetadata: '',
            commitTimestampMs: -1,
          },
        ],
      },
    ],
  };
  const requestId = nextCommitId++;
  h.apply(h.coordinator.offsetCommit(requestId, request, h.nowMs));
  const response = h.responses.get(requestId);
  if (response?.api !== 'OffsetCommit') throw new Error('no OffsetCommit answer');
  h.responses.delete(requestId);
  return response.topics[0]!.partitions[0]!.errorCode;
}

describe('ConsumerGroupHeartbeat: joining', () => {
  it('gives a v0 member a server-generated id, epoch 1 and every partition of its topic', () => {
    const h = new Harness();
    const response = join(h, '', { apiVersion: 0 });
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.memberId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(response.memberEpoch).toBe(1);
    expect(response.heartbeatIntervalMs).toBe(5000);
    expect(partitionsOf(response.assignment?.topicPartitions, orders.topicId)).toEqual([0, 1, 2, 3]);
    expect(h.coordinator.getConsumerGroup(group)?.state).toBe('Stable');
  });

  it('refuses a v1 join without a member id, a join without a subscription or rebalance timeout', () => {
    const h = new Harness();
    expect(join(h, '').errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(join(h, 'm1', { subscribedTopicNames: null }).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(join(h, 'm1', { rebalanceTimeoutMs: -1 }).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(join(h, 'm1', { topicPartitions: [{ topicId: orders.topicId, partitions: [0] }] }).errorCode).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    expect(join(h, 'm1', { serverAssignor: 'sticky' }).errorCode).toBe(ErrorCode.UNSUPPORTED_ASSIGNOR);
    expect(join(h, 'm1', { subscribedTopicRegex: '(' }).errorCode).toBe(ErrorCode.INVALID_REGULAR_EXPRESSION);
  });

  it('subscribes by regex (whole-name match) and assigns the topics it matches', () => {
    const h = new Harness();
    const image = topicsOf(orders, topic('orders-eu', 2), topic('payments', 2));
    const response = heartbeat(h, image, {
      groupId: group,
      memberId: 'm1',
      memberEpoch: 0,
      rebalanceTimeoutMs,
      subscribedTopicRegex: 'orders.*',
      topicPartitions: [],
    })!;
    expect(response.errorCode).toBe(ErrorCode.NONE);
    const assigned = response.assignment!.topicPartitions.map((t) => image.byId.get(t.topicId)!.name).sort();
    expect(assigned).toEqual(['orders', 'orders-eu']);
  });

  it('matches a regex in linear time (RE2), so a backtracking-hostile pattern cannot hold the coordinator', () => {
    const h = new Harness();
    // With a backtracking engine `(a+)+b` against 64 a's and no b takes about 2^64 steps.
    const hostile = topic(`${'a'.repeat(64)}c`, 1);
    const image = topicsOf(orders, hostile);
    const response = heartbeat(h, image, {
      groupId: group,
      memberId: 'm1',
      memberEpoch: 0,
      rebalanceTimeoutMs,
      subscribedTopicRegex: '(a+)+b',
      topicPartitions: [],
    })!;
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.assignment!.topicPartitions).toEqual([]);
  });

  it('refuses what RE2 does not have (lookaround, backreferences) and an over-long regex', () => {
    const h = new Harness();
    for (const regex of ['orders(?=-eu)', '(o)\\1', 'o'.repeat(4097)]) {
      expect(join(h, 'm1', { subscribedTopicNames: null, subscribedTopicRegex: regex }).errorCode).toBe(
        ErrorCode.INVALID_REGULAR_EXPRESSION,
      );
    }
  });

  it('answers GROUP_MAX_SIZE_REACHED beyond group.consumer.max.size, not the classic group.max.size', () => {
    // The classic limit is lower on purpose: a KIP-848 group follows its own key, as in Kafka.
    const h = new Harness({ consumerMembersPerGroupMax: 2, membersPerGroupMax: 1 });
    expect(join(h, 'm1').errorCode).toBe(ErrorCode.NONE);
    expect(join(h, 'm2').errorCode).toBe(ErrorCode.NONE);
    const refused = join(h, 'm3');
    expect(refused.errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
    expect(refused.errorMessage).toBe('The consumer group has reached its maximum capacity of 2 members.');
    expect([...h.coordinator.getConsumerGroup(group)!.members.keys()].sort()).toEqual(['m1', 'm2']);
    // A member already in the group may rejoin (epoch 0) when the group is full.
    expect(join(h, 'm2').errorCode).toBe(ErrorCode.NONE);
  });
});

describe('ConsumerGroupHeartbeat: reconciliation', () => {
  it('moves a partition to its new owner only after the old owner revoked it', () => {
    const h = new Harness();
    const a = new SimulatedConsumer('a', group, ['orders']);
    const b = new SimulatedConsumer('b', group, ['orders']);
    a.beat(h, topics);
    expect(a.owned.get(orders.topicId)).toEqual([0, 1, 2, 3]);
    b.beat(h, topics);
    // b is at the new epoch but its target partitions are still a's.
    expect(b.epoch).toBe(2);
    expect(b.owned.get(orders.topicId) ?? []).toEqual([]);
    const consumerGroup = h.coordinator.getConsumerGroup(group)!;
    expect(consumerGroup.groupEpoch).toBe(2);
    expect(consumerGroup.members.get('b')!.state).toBe('unreleased_partitions');
    // a is told to give up b's half and keeps its epoch until it has.
    a.beat(h, topics, false);
    expect(a.epoch).toBe(1);
    expect(a.target.get(orders.topicId)!.length).toBe(2);
    expect(a.owned.get(orders.topicId)!.length).toBe(4); // still revoking
    expect(consumerGroup.members.get('a')!.state).toBe('unrevoked_partitions');
    b.beat(h, topics);
    expect(b.owned.get(orders.topicId) ?? []).toEqual([]);
    // a reports what it owns now: revocation acknowledged, a moves to epoch 2.
    a.beat(h, topics);
    expect(a.epoch).toBe(2);
    b.beat(h, topics);
    const ownedByA = a.owned.get(orders.topicId)!;
    const ownedByB = b.owned.get(orders.topicId)!;
    expect([...ownedByA, ...ownedByB].sort()).toEqual([0, 1, 2, 3]);
    expect(ownedByA.filter((p) => ownedByB.includes(p))).toEqual([]);
    expect(consumerGroup.state).toBe('Stable');
  });

  it('gives everything to the member left after another leaves with epoch -1', () => {
    const h = new Harness();
    const a = new SimulatedConsumer('a', group, ['orders']);
    const b = new SimulatedConsumer('b', group, ['orders']);
    for (let round = 0; round < 3; round++) {
      a.beat(h, topics);
      b.beat(h, topics);
    }
    expect(b.leave(h, topics)).toBe(ErrorCode.NONE);
    expect(h.coordinator.getConsumerGroup(group)!.members.has('b')).toBe(false);
    a.beat(h, topics);
    expect(a.owned.get(orders.topicId)).toEqual([0, 1, 2, 3]);
    expect(a.epoch).toBe(h.coordinator.getConsumerGroup(group)!.groupEpoch);
  });

  it('fences a member with a wrong epoch and does not know an unknown one', () => {
    const h = new Harness();
    join(h, 'a');
    const beat = (memberId: string, memberEpoch: number) =>
      heartbeat(h, topics, { groupId: group, memberId, memberEpoch })!.errorCode;
    expect(beat('a', 7)).toBe(ErrorCode.FENCED_MEMBER_EPOCH);
    expect(beat('zz', 1)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(beat('a', 1)).toBe(ErrorCode.NONE);
    // The previous epoch is accepted when the member owns a subset of its assignment (a lost answer).
    join(h, 'b');
    expect(
      heartbeat(h, topics, {
        groupId: group,
        memberId: 'a',
        memberEpoch: 1,
        topicPartitions: [{ topicId: orders.topicId, partitions: [0, 1] }],
      })!.errorCode,
    ).toBe(ErrorCode.NONE);
  });

  it('removes a member whose session expires, and one that does not revoke within its rebalance timeout', () => {
    const h = new Harness();
    const a = new SimulatedConsumer('a', group, ['orders']);
    const b = new SimulatedConsumer('b', group, ['orders']);
    a.beat(h, topics);
    b.beat(h, topics);
    a.beat(h, topics, false); // asked to revoke; never acknowledges
    expect(h.coordinator.getConsumerGroup(group)!.members.get('a')!.state).toBe('unrevoked_partitions');
    for (let elapsed = 0; elapsed < rebalanceTimeoutMs; elapsed += 5_000) {
      h.advance(5_000);
      b.beat(h, topics);
      heartbeat(h, topics, { groupId: group, memberId: 'a', memberEpoch: a.epoch });
    }
    h.advance(1);
    expect(h.coordinator.getConsumerGroup(group)!.members.has('a')).toBe(false);
    b.beat(h, topics);
    expect(b.owned.get(orders.topicId)).toEqual([0, 1, 2, 3]);
    // b stops heartbeating: gone after group.consumer.session.timeout.ms.
    h.advance(45_000);
    expect(h.coordinator.getConsumerGroup(group)!.members.size).toBe(0);
    expect(h.coordinator.getConsumerGroup(group)!.state).toBe('Empty');
  });

  it('lets a static member leave with -2 and a successor with its instance id take its place and epoch', () => {
    const h = new Harness();
    const first = join(h, 's1', { instanceId: 'instance-1' });
    join(h, 'other');
    expect(join(h, 's2', { instanceId: 'instance-1' }).errorCode).toBe(ErrorCode.UNRELEASED_INSTANCE_ID);
    expect(
      heartbeat(h, topics, { groupId: group, memberId: 's1', memberEpoch: -2, instanceId: 'instance-1' })!
        .memberEpoch,
    ).toBe(-2);
    const epochBefore = h.coordinator.getConsumerGroup(group)!.groupEpoch;
    const successor = join(h, 's2', { instanceId: 'instance-1' });
    expect(successor.errorCode).toBe(ErrorCode.NONE);
    // No rebalance: the group epoch stays; the successor starts from its predecessor's epoch and
    // reconciles to the current target at once (it owns nothing yet, so nothing to revoke).
    const consumerGroup = h.coordinator.getConsumerGroup(group)!;
    expect(consumerGroup.groupEpoch).toBe(epochBefore);
    expect(first.memberEpoch).toBe(1);
    expect(successor.memberEpoch).toBe(epochBefore);
    expect(consumerGroup.members.has('s1')).toBe(false);
    expect(consumerGroup.members.get('s2')!.instanceId).toBe('instance-1');
  });
});

describe('consumer groups beside classic groups and offsets', () => {
  it('checks the member epoch of offset commits (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID)', () => {
    const h = new Harness();
    const joined = join(h, 'a');
    expect(commit(h, 'a', joined.memberEpoch)).toBe(ErrorCode.NONE);
    expect(commit(h, 'a', joined.memberEpoch + 1)).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect(commit(h, 'nobody', 1)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(commit(h, '', -1)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(commit(h, 'a', joined.memberEpoch, 8)).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(commit(h, 'a', joined.memberEpoch, 9)).toBe(ErrorCode.NONE);
    expect(h.coordinator.getGroup(group)?.committedOffset('orders', 0)?.offset).toBe(5n);
  });

  it('accepts a commit at the epoch before a heartbeat moved it on, for partitions held since then (KIP-1251)', () => {
    const h = new Harness();
    const a = new SimulatedConsumer('a', group, ['orders']);
    const b = new SimulatedConsumer('b', group, ['orders']);
    a.beat(h, topics);
    b.beat(h, topics);
    a.beat(h, topics, false); // told to revoke b's half, a stays at epoch 1
    expect(a.epoch).toBe(1);
    const kept = a.target.get(orders.topicId)!;
    const revoked = [0, 1, 2, 3].filter((p) => !kept.includes(p));
    // While the revocation is pending, a may still commit what it gives up.
    expect(commit(h, 'a', 1, 9, revoked[0], orders.topicId)).toBe(ErrorCode.NONE);
    // a's acknowledgement moves it to epoch 2 in the coordinator; until the answer reaches a's client
    // (after the records are replicated) a commits with epoch 1, for partitions it held all along.
    a.beat(h, topics);
    expect(h.coordinator.getConsumerGroup(group)!.members.get('a')!.memberEpoch).toBe(2);
    expect(commit(h, 'a', 1, 9, kept[0], orders.topicId)).toBe(ErrorCode.NONE);
    expect(commit(h, 'a', 2, 9, kept[0], orders.topicId)).toBe(ErrorCode.NONE);
    // A partition a gave up, an epoch a never had, or a topic the broker did not name stay refused.
    expect(commit(h, 'a', 1, 9, revoked[0], orders.topicId)).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect(commit(h, 'a', 3, 9, kept[0], orders.topicId)).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    expect(commit(h, 'a', 1, 9, kept[0])).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    // b got its partitions at epoch 2: a commit of them at epoch 1 is refused.
    b.beat(h, topics);
    expect(b.owned.get(orders.topicId)).toEqual(revoked);
    expect(commit(h, 'b', 2, 9, revoked[0], orders.topicId)).toBe(ErrorCode.NONE);
    expect(commit(h, 'b', 1, 9, revoked[0], orders.topicId)).toBe(ErrorCode.STALE_MEMBER_EPOCH);
  });

  it('keeps the two group types apart: JoinGroup is INCONSISTENT_GROUP_PROTOCOL, a heartbeat to a classic group GROUP_ID_NOT_FOUND', () => {
    const h = new Harness({ initialRebalanceDelayMs: 0 });
    join(h, 'a');
    const joinId = h.join(group, { memberId: '' });
    expect(h.responses.get(joinId)).toMatchObject({ errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL });
    h.join('classic', { memberId: '' });
    const refused = heartbeat(h, topics, {
      groupId: 'classic',
      memberId: 'x',
      memberEpoch: 0,
      rebalanceTimeoutMs,
      subscribedTopicNames: ['orders'],
      topicPartitions: [],
    })!;
    expect(refused.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });

  it('checks a TxnOffsetCommit member against the member epoch (ILLEGAL_GENERATION), deletes only unsubscribed offsets', () => {
    const h = new Harness();
    const joined = join(h, 'a');
    const txnCommit = (requestId: number, memberEpoch: number) => {
      h.apply(
        h.coordinator.txnOffsetCommit(
          requestId,
          {
            transactionalId: 'tx',
            groupId: group,
            producerId: 9,
            producerEpoch: 0,
            generationId: memberEpoch,
            memberId: 'a',
            groupInstanceId: null,
            topics: [
              {
                name: 'orders',
                partitions: [
                  {
                    partitionIndex: 1,
                    committedOffset: 3n,
                    committedLeaderEpoch: -1,
                    committedMetadata: null,
                  },
                ],
              },
            ],
          },
          h.nowMs,
        ),
      );
      return h.responses.get(requestId);
    };
    expect(txnCommit(1, joined.memberEpoch + 1)).toMatchObject({
      topics: [{ partitions: [{ errorCode: ErrorCode.ILLEGAL_GENERATION }] }],
    });
    expect(txnCommit(2, joined.memberEpoch)).toMatchObject({
      topics: [{ partitions: [{ errorCode: ErrorCode.NONE }] }],
    });
    commit(h, 'a', joined.memberEpoch);
    h.apply(
      h.coordinator.offsetDelete(
        3,
        { groupId: group, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }] },
        h.nowMs,
      ),
    );
    expect(h.responses.get(3)).toMatchObject({
      errorCode: ErrorCode.NONE,
      topics: [
        {
          name: 'orders',
          partitions: [{ partitionIndex: 0, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC }],
        },
      ],
    });
  });

  it('lists, describes and refuses to describe as classic', () => {
    const h = new Harness();
    join(h, 'a');
    h.apply(h.coordinator.listGroups(1, { statesFilter: [] }, h.nowMs));
    expect(h.responses.get(1)).toMatchObject({
      groups: [{ groupId: group, protocolType: 'consumer', groupState: 'Stable', groupType: 'consumer' }],
    });
    h.apply(h.coordinator.describeGroups(2, { groups: [group] }, h.nowMs));
    expect(h.responses.get(2)).toMatchObject({ groups: [{ errorCode: ErrorCode.GROUP_ID_NOT_FOUND }] });
    h.apply(h.coordinator.consumerGroupDescribe(3, { groupIds: [group, 'unknown'] }, topics, h.nowMs));
    const described = h.responses.get(3);
    if (described?.api !== 'ConsumerGroupDescribe') throw new Error('no describe answer');
    expect(described.groups[0]).toMatchObject({
      errorCode: 0,
      groupState: 'Stable',
      groupEpoch: 1,
      assignorName: 'uniform',
    });
    expect(described.groups[0]!.members[0]!.assignment.topicPartitions[0]).toMatchObject({
      topicName: 'orders',
      partitions: [0, 1, 2, 3],
    });
    expect(described.groups[1]!.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });

  it('deletes an empty consumer group with its offsets, refuses one with members', () => {
    const h = new Harness();
    join(h, 'a');
    commit(h, 'a', 1);
    h.apply(h.coordinator.deleteGroups(1, { groupsNames: [group] }, h.nowMs));
    expect(h.responses.get(1)).toMatchObject({ results: [{ errorCode: ErrorCode.NON_EMPTY_GROUP }] });
    heartbeat(h, topics, { groupId: group, memberId: 'a', memberEpoch: -1 });
    h.apply(h.coordinator.deleteGroups(2, { groupsNames: [group] }, h.nowMs));
    expect(h.responses.get(2)).toMatchObject({ results: [{ errorCode: ErrorCode.NONE }] });
    expect(h.coordinator.getConsumerGroup(group)).toBeUndefined();
    expect(h.coordinator.getGroup(group)).toBeUndefined();
  });
});

describe('consumer group records in __consumer_offsets', () => {
  it('round-trips each record type, byte layout as Kafka writes it', () => {
    const [key, value] = consumerGroupMetadataRecord('g', 7);
    // key: int16 3, string "g"; value: int16 0, int32 7, no tagged fields.
    expect(key.toString('hex')).toBe('000300016' + '7');
    expect(value!.toString('hex')).toBe('00000000000700');
    expect(decodeConsumerGroupRecord([key, value])).toEqual({
      kind: 'consumerGroupMetadata',
      group: 'g',
      epoch: 7,
    });
    const metadata = {
      instanceId: null,
      rackId: 'r1',
      clientId: 'c',
      clientHost: '/h',
      subscribedTopicNames: ['orders', 'payments'],
      subscribedTopicRegex: null,
      rebalanceTimeoutMs: 30_000,
      serverAssignor: 'range',
    };
    expect(decodeConsumerGroupRecord(consumerMemberMetadataRecord('g', 'm', metadata))).toEqual({
      kind: 'consumerMemberMetadata',
      group: 'g',
      memberId: 'm',
      value: metadata,
    });
    const assignment = {
      memberEpoch: 4,
      previousMemberEpoch: 3,
      state: 'unrevoked_partitions' as const,
      assigned: new Map([[orders.topicId, [0, 2]]]),
      pendingRevocation: new Map([[orders.topicId, [1]]]),
    };
    expect(decodeConsumerGroupRecord(consumerMemberAssignmentRecord('g', 'm', assignment))).toEqual({
      kind: 'consumerMemberAssignment',
      group: 'g',
      memberId: 'm',
      value: assignment,
    });
    expect(decodeConsumerGroupRecord(consumerMemberAssignmentRecord('g', 'm', null))).toMatchObject({
      value: null,
    });
  });

  it('rebuilds the group on a new coordinator: members keep their epochs and partitions, the group epoch moves on', () => {
    const h = new Harness();
    const a = new SimulatedConsumer('a', group, ['orders']);
    const b = new SimulatedConsumer('b', group, ['orders']);
    for (let round = 0; round < 3; round++) {
      a.beat(h, topics);
      b.beat(h, topics);
    }
    const before = h.coordinator.getConsumerGroup(group)!;
    const epochBefore = before.groupEpoch;
    const h2 = new Harness({}, new SeededRandom(2), h.logs);
    const loaded = h2.coordinator.getConsumerGroup(group)!;
    expect(loaded.groupEpoch).toBe(epochBefore);
    expect(loaded.members.get('a')!.memberEpoch).toBe(a.epoch);
    expect(loaded.members.get('a')!.assigned).toEqual(before.members.get('a')!.assigned);
    expect(loaded.members.get('b')!.assigned).toEqual(before.members.get('b')!.assigned);
    // The members carry on against the new coordinator with the epochs they have.
    expect(a.beat(h2, topics)).toBe(ErrorCode.NONE);
    expect(b.beat(h2, topics)).toBe(ErrorCode.NONE);
    a.beat(h2, topics);
    b.beat(h2, topics);
    expect(loaded.groupEpoch).toBeGreaterThan(epochBefore);
    const all = [...(a.owned.get(orders.topicId) ?? []), ...(b.owned.get(orders.topicId) ?? [])].sort();
    expect(all).toEqual([0, 1, 2, 3]);
  });
});

describe('assignors', () => {
  const payments = topic('payments', 3);
  const members = [
    { memberId: 'm1', subscribedTopicIds: new Set([orders.topicId, payments.topicId]) },
    { memberId: 'm2', subscribedTopicIds: new Set([orders.topicId]) },
  ];
  const topicMap = new Map([
    [orders.topicId, orders],
    [payments.topicId, payments],
  ]);

  it('range gives each subscriber a contiguous range per topic, the first ones one more', () => {
    const result = assign('range', { members, topics: topicMap, previous: new Map() });
    expect(result.get('m1')!.get(orders.topicId)).toEqual([0, 1]);
    expect(result.get('m2')!.get(orders.topicId)).toEqual([2, 3]);
    expect(result.get('m1')!.get(payments.topicId)).toEqual([0, 1, 2]);
  });

  it('uniform balances and keeps previous owners within their share', () => {
    const previous = new Map([['m2', new Map([[orders.topicId, [0, 1, 2, 3]]])]]);
    const result = assign('uniform', { members, topics: topicMap, previous });
    const m2 = result.get('m2')!.get(orders.topicId)!;
    expect(m2.length).toBe(2);
    expect(m2.every((p) => [0, 1, 2, 3].includes(p))).toBe(true);
    const total = [...result.values()].reduce(
      (n, a) => n + [...a.values()].reduce((k, p) => k + p.length, 0),
      0,
    );
    expect(total).toBe(7);
  });
});

describe('ConsumerGroupHeartbeat: a refused append', () => {
  /** Sends a heartbeat with a chosen request id, so an answer that comes later can be read. */
  let nextId = 800_000;
  function send(h: Harness, request: object): number {
    const requestId = nextId++;
    h.apply(
      h.coordinator.consumerGroupHeartbeat(
        requestId,
        {
          apiVersion: 1,
          groupId: group,
          memberId: '',
          memberEpoch: 0,
          instanceId: null,
          rackId: null,
          rebalanceTimeoutMs,
          subscribedTopicNames: ['orders'],
          subscribedTopicRegex: null,
          serverAssignor: null,
          topicPartitions: [],
          clientId: 'client',
          clientHost: '/127.0.0.1',
          ...request,
        },
        topics,
        h.nowMs,
      ),
    );
    return requestId;
  }
  function answer(h: Harness, requestId: number) {
    const response = h.responses.get(requestId);
    if (response !== undefined && response.api !== 'ConsumerGroupHeartbeat') throw new Error(response.api);
    return response;
  }
  /** What a coordinator loading the log would hold: group epoch and each member's epoch and partitions. */
  function summary(h: Harness, from: 'memory' | 'log') {
    const state =
      from === 'memory'
        ? h.coordinator.getConsumerGroup(group)
        : new Harness({}, new SeededRandom(9), h.logs).coordinator.getConsumerGroup(group);
    if (state === undefined) return null;
    return {
      groupEpoch: state.groupEpoch,
      members: [...state.members.values()]
        .map((m) => ({ id: m.memberId, epoch: m.memberEpoch, assigned: [...m.assigned] }))
        .sort((x, y) => (x.id < y.id ? -1 : 1)),
    };
  }

  it('undoes the join whose records were refused, and the next join takes the epoch it would have', () => {
    const h = new Harness();
    expect(join(h, 'a').errorCode).toBe(ErrorCode.NONE);
    const before = summary(h, 'memory');
    expect(before?.groupEpoch).toBe(1);
    h.autoAppend = false;
    const b = send(h, { memberId: 'b' });
    expect(answer(h, b)).toBeUndefined();
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(answer(h, b)).toMatchObject({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
    // The group is as before b's heartbeat, as in the log: a alone at epoch 1, b's deadlines gone.
    expect(summary(h, 'memory')).toEqual(before);
    expect(summary(h, 'log')).toEqual(before);
    expect(h.coordinator.nextDeadlineMs()).toBe(h.nowMs + 45_000);
    h.autoAppend = true;
    const retried = join(h, 'b');
    expect(retried.errorCode).toBe(ErrorCode.NONE);
    expect(h.coordinator.getConsumerGroup(group)!.groupEpoch).toBe(2);
    expect(summary(h, 'memory')).toEqual(summary(h, 'log'));
  });

  it('removes a group whose creating write was refused', () => {
    const h = new Harness();
    h.autoAppend = false;
    const a = send(h, { memberId: 'a' });
    h.completeAppend(ErrorCode.MESSAGE_TOO_LARGE);
    expect(answer(h, a)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR });
    expect(h.coordinator.getConsumerGroup(group)).toBeUndefined();
    // No member deadline is left: the next one is the partition's offset expiration cycle.
    expect(h.coordinator.nextDeadlineMs()).toBe(h.nowMs + 600_000);
  });

  it('holds the group’s next heartbeats until its write completes, then runs them on what stayed', () => {
    const h = new Harness();
    expect(join(h, 'a').errorCode).toBe(ErrorCode.NONE);
    h.autoAppend = false;
    const b = send(h, { memberId: 'b' });
    const c = send(h, { memberId: 'c' });
    // c waits for b's write: nothing of it is computed or answered yet.
    expect(answer(h, c)).toBeUndefined();
    expect(h.outstanding).toHaveLength(1);
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(answer(h, b)).toMatchObject({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
    // c ran against the group without b, and wrote its own records.
    expect(answer(h, c)).toBeUndefined();
    expect(h.outstanding).toHaveLength(1);
    h.completeAppend(0);
    expect(answer(h, c)).toMatchObject({ errorCode: ErrorCode.NONE, memberId: 'c', memberEpoch: 2 });
    expect([...h.coordinator.getConsumerGroup(group)!.members.keys()].sort()).toEqual(['a', 'c']);
    expect(summary(h, 'memory')).toEqual(summary(h, 'log'));
  });

  it('answers a heartbeat that waited half a heartbeat interval for a write that does not complete, unrun', () => {
    const h = new Harness();
    expect(join(h, 'a').errorCode).toBe(ErrorCode.NONE);
    const aEpoch = h.coordinator.getConsumerGroup(group)!.members.get('a')!.memberEpoch;
    h.autoAppend = false;
    const b = send(h, { memberId: 'b' });
    // b's write stays out (an acks=all append waiting on a shrinking ISR): a's heartbeat waits for it.
    const a = send(h, {
      memberId: 'a',
      memberEpoch: aEpoch,
      subscribedTopicNames: null,
      topicPartitions: null,
    });
    h.advance(2_499);
    expect(answer(h, a)).toBeUndefined();
    // librdkafka gives a heartbeat one interval (5 s) before it sends it again: a is answered first.
    h.advance(1);
    expect(answer(h, a)).toMatchObject({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
    h.completeAppend(0);
    expect(answer(h, b)).toMatchObject({ errorCode: ErrorCode.NONE, memberId: 'b', memberEpoch: 2 });
    // a's heartbeat was dropped, not run once the write completed: nothing more is written for it.
    expect(h.outstanding).toHaveLength(0);
    expect(h.coordinator.getConsumerGroup(group)!.members.get('a')!.memberEpoch).toBe(aEpoch);
    expect(h.coordinator.inflightRequestCount()).toBe(0);
  });

  it('keeps a leave waiting for the write, and runs it once the write completes', () => {
    const h = new Harness();
    expect(join(h, 'a').errorCode).toBe(ErrorCode.NONE);
    h.autoAppend = false;
    const b = send(h, { memberId: 'b' });
    const leave = send(h, {
      memberId: 'a',
      memberEpoch: -1,
      subscribedTopicNames: null,
      topicPartitions: null,
    });
    h.advance(10_000);
    expect(answer(h, leave)).toBeUndefined();
    h.completeAppend(0);
    expect(answer(h, b)).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 2 });
    // a's leave ran on the group with b: a is gone and its removal is being written.
    expect(h.outstanding).toHaveLength(1);
    expect(h.coordinator.getConsumerGroup(group)!.members.has('a')).toBe(false);
    h.completeAppend(0);
    expect(answer(h, leave)).toMatchObject({ errorCode: ErrorCode.NONE, memberId: 'a', memberEpoch: -1 });
    expect(summary(h, 'memory')).toEqual(summary(h, 'log'));
  });

  it('keeps the change when the records were appended but not replicated in time, as Kafka keeps it', () => {
    const h = new Harness();
    expect(join(h, 'a').errorCode).toBe(ErrorCode.NONE);
    h.autoAppend = false;
    const b = send(h, { memberId: 'b' });
    h.completeAppend(ErrorCode.REQUEST_TIMED_OUT);
    expect(answer(h, b)).toMatchObject({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
    expect([...h.coordinator.getConsumerGroup(group)!.members.keys()].sort()).toEqual(['a', 'b']);
  });

  it('brings back a member whose expiry was refused and expires it again 500 ms later', () => {
    const h = new Harness();
    expect(join(h, 'a').errorCode).toBe(ErrorCode.NONE);
    expect(join(h, 'b').errorCode).toBe(ErrorCode.NONE);
    h.advance(40_000);
    const aEpoch = h.coordinator.getConsumerGroup(group)!.members.get('a')!.memberEpoch;
    expect(heartbeat(h, topics, { groupId: group, memberId: 'a', memberEpoch: aEpoch })?.errorCode).toBe(
      ErrorCode.NONE,
    );
    h.autoAppend = false;
    h.advance(5_000); // b's session (45 s) ends: its removal is written
    expect(h.outstanding).toHaveLength(1);
    expect(h.coordinator.getConsumerGroup(group)!.members.has('b')).toBe(false);
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(h.coordinator.getConsumerGroup(group)!.members.has('b')).toBe(true);
    expect(summary(h, 'memory')).toEqual(summary(h, 'log'));
    expect(h.coordinator.nextDeadlineMs()).toBe(h.nowMs + 500);
    h.autoAppend = true;
    h.advance(500);
    expect(h.coordinator.getConsumerGroup(group)!.members.has('b')).toBe(false);
    expect(summary(h, 'memory')).toEqual(summary(h, 'log'));
  });

  it('answers heartbeats still waiting NOT_COORDINATOR when the partition is unloaded', () => {
    const h = new Harness();
    expect(join(h, 'a').errorCode).toBe(ErrorCode.NONE);
    h.autoAppend = false;
    const b = send(h, { memberId: 'b' });
    const c = send(h, { memberId: 'c' });
    h.apply(h.coordinator.unloadPartition(0));
    expect(answer(h, b)).toMatchObject({ errorCode: ErrorCode.NOT_COORDINATOR });
    expect(answer(h, c)).toMatchObject({ errorCode: ErrorCode.NOT_COORDINATOR });
    expect(h.coordinator.inflightRequestCount()).toBe(0);
  });
});

describe('KIP-848 offset and group expiration (offsets.retention.minutes)', () => {
  const retention = { offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 10_000 };
  let nextId = 700_000;

  function commitTo(h: Harness, topicName: string, memberId: string, memberEpoch: number): number {
    const requestId = nextId++;
    h.apply(
      h.coordinator.offsetCommit(
        requestId,
        {
          groupId: group,
          generationId: memberEpoch,
          memberId,
          groupInstanceId: null,
          retentionTimeMs: -1,
          topics: [
            {
              name: topicName,
              partitions: [
                {
                  partitionIndex: 0,
                  committedOffset: 5n,
                  committedLeaderEpoch: -1,
                  committedMetadata: '',
                  commitTimestampMs: -1,
                },
              ],
            },
          ],
        },
        h.nowMs,
      ),
    );
    const response = h.responses.get(requestId);
    if (response?.api !== 'OffsetCommit') throw new Error('no OffsetCommit answer');
    return response.topics[0]!.partitions[0]!.errorCode;
  }
  /** The key versions of the records appended last (one batch), in order. */
  const keyVersionsOf = (records: readonly (readonly [Buffer, Buffer | null])[]) =>
    records.map(([key, value]) => `${key.readInt16BE(0)}${value === null ? '-' : '+'}`);

  it('deletes an empty group once its offsets expired, with the tombstones Kafka writes, and it stays gone on reload', () => {
    const h = new Harness(retention);
    expect(join(h, 'a').errorCode).toBe(ErrorCode.NONE);
    expect(commitTo(h, 'orders', 'a', 1)).toBe(ErrorCode.NONE);
    heartbeat(h, topics, { groupId: group, memberId: 'a', memberEpoch: -1 });
    expect(h.coordinator.getConsumerGroup(group)?.state).toBe('Empty');
    const logLength = h.logs.get(0)!.length;
    // Cycles run every 10 s; the offset is 50 s old at the fifth: nothing is written yet.
    h.advance(50_000);
    expect(h.logs.get(0)!.length).toBe(logLength);
    expect(h.coordinator.getConsumerGroup(group)).toBeDefined();
    h.advance(10_000);
    // One batch: the offset's tombstone (key 1), then the group's: 7, 4 and 3.
    expect(keyVersionsOf(h.logs.get(0)!.slice(logLength))).toEqual(['1-', '7-', '4-', '3-']);
    expect(h.coordinator.getConsumerGroup(group)).toBeUndefined();
    expect(h.coordinator.getGroup(group)).toBeUndefined();
    const reloaded = new Harness(retention, new SeededRandom(3), h.logs);
    expect(reloaded.coordinator.getConsumerGroup(group)).toBeUndefined();
    expect(reloaded.coordinator.getGroup(group)).toBeUndefined();
    // A member coming back starts a new group.
    expect(join(h, 'a')).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 1 });
  });

  it('deletes an empty group without offsets at the next cycle, as Kafka does', () => {
    const h = new Harness(retention);
    join(h, 'a');
    heartbeat(h, topics, { groupId: group, memberId: 'a', memberEpoch: -1 });
    h.advance(10_000);
    expect(h.coordinator.getConsumerGroup(group)).toBeUndefined();
    expect(
      new Harness(retention, new SeededRandom(3), h.logs).coordinator.getConsumerGroup(group),
    ).toBeUndefined();
  });

  it('expires only the offsets of topics no member subscribes to, and keeps a group with members', () => {
    const h = new Harness(retention);
    join(h, 'a');
    expect(commitTo(h, 'orders', 'a', 1)).toBe(ErrorCode.NONE);
    expect(commitTo(h, 'payments', 'a', 1)).toBe(ErrorCode.NONE);
    for (let i = 0; i < 7; i++) {
      h.advance(10_000);
      const epoch = h.coordinator.getConsumerGroup(group)!.members.get('a')!.memberEpoch;
      heartbeat(h, topics, { groupId: group, memberId: 'a', memberEpoch: epoch });
    }
    const holder = h.coordinator.getGroup(group)!;
    expect(holder.committedOffset('payments', 0)).toBeUndefined();
    expect(holder.committedOffset('orders', 0)?.offset).toBe(5n);
    expect(h.coordinator.getConsumerGroup(group)?.members.has('a')).toBe(true);
    const reloaded = new Harness(retention, new SeededRandom(3), h.logs).coordinator.getGroup(group)!;
    expect(reloaded.committedOffset('payments', 0)).toBeUndefined();
    expect(reloaded.committedOffset('orders', 0)?.offset).toBe(5n);
  });

  it('keeps the group and its offsets when the tombstones are refused, and tries again at the next cycle', () => {
    const h = new Harness(retention);
    join(h, 'a');
    commitTo(h, 'orders', 'a', 1);
    heartbeat(h, topics, { groupId: group, memberId: 'a', memberEpoch: -1 });
    h.autoAppend = false;
    h.advance(60_000);
    expect(h.outstanding).toHaveLength(1);
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(h.coordinator.getConsumerGroup(group)).toBeDefined();
    expect(h.coordinator.getGroup(group)?.committedOffset('orders', 0)?.offset).toBe(5n);
    h.autoAppend = true;
    h.advance(10_000);
    expect(h.coordinator.getConsumerGroup(group)).toBeUndefined();
    expect(h.coordinator.getGroup(group)).toBeUndefined();
  });

  it('holds a heartbeat while the group’s tombstones are written, then lets it start a new group', () => {
    const h = new Harness(retention);
    join(h, 'a');
    heartbeat(h, topics, { groupId: group, memberId: 'a', memberEpoch: -1 });
    h.autoAppend = false;
    h.advance(10_000);
    expect(h.outstanding).toHaveLength(1);
    expect(join(h, 'b')).toBeUndefined();
    h.completeAppend(0);
    expect(h.coordinator.getConsumerGroup(group)).toBeUndefined();
    h.autoAppend = true;
    expect(join(h, 'b')).toMatchObject({ errorCode: ErrorCode.NONE, memberEpoch: 1 });
  });
});
