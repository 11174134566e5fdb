import { describe, expect, it } from 'vitest';
import { cooperativeStickyAssigner, rangeAssigner, roundRobinAssigner } from './assigners.js';
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
} from './consumer-protocol.js';

const sub = (...topics: string[]) => ({ topics, userData: null });

describe('assigners', () => {
  it('range gives consecutive ranges per topic, the first members one extra', () => {
    const result = rangeAssigner().assign({
      members: new Map([
        ['b', sub('t', 'u')],
        ['a', sub('t', 'u')],
      ]),
      partitionCounts: new Map([
        ['t', 3],
        ['u', 2],
      ]),
    });
    expect(Object.fromEntries(result.get('a')!)).toEqual({ t: [0, 1], u: [0] });
    expect(Object.fromEntries(result.get('b')!)).toEqual({ t: [2], u: [1] });
  });

  it('round robin deals partitions in turn and skips members not subscribed to a topic', () => {
    const result = roundRobinAssigner().assign({
      members: new Map([
        ['a', sub('t')],
        ['b', sub('t', 'u')],
      ]),
      partitionCounts: new Map([
        ['t', 3],
        ['u', 2],
      ]),
    });
    expect(Object.fromEntries(result.get('a')!)).toEqual({ t: [0, 2] });
    expect(Object.fromEntries(result.get('b')!)).toEqual({ t: [1], u: [0, 1] });
  });
});

describe('cooperative sticky', () => {
  const assigner = cooperativeStickyAssigner();
  const counts = new Map([['t', 4]]);
  const owning = (owned: number[]) => ({
    topics: ['t'],
    userData: null,
    ownedPartitions: new Map([['t', owned]]),
  });
  const partitionsOf = (result: Map<string, ReadonlyMap<string, readonly number[]>>, memberId: string) => [
    ...(result.get(memberId)!.get('t') ?? []),
  ];

  it('moves a partition in two rounds: first its owner gives it up, then the newcomer gets it', () => {
    // a owns everything, b just joined.
    const first = assigner.assign({
      members: new Map([
        ['a', owning([0, 1, 2, 3])],
        ['b', owning([])],
      ]),
      partitionCounts: counts,
    });
    const keptByA = partitionsOf(first, 'a');
    expect(keptByA).toHaveLength(2);
    // b gets nothing a still owns.
    expect(partitionsOf(first, 'b')).toEqual([]);
    const second = assigner.assign({
      members: new Map([
        ['a', owning(keptByA)],
        ['b', owning([])],
      ]),
      partitionCounts: counts,
    });
    expect(partitionsOf(second, 'a')).toEqual(keptByA);
    expect(new Set([...partitionsOf(second, 'a'), ...partitionsOf(second, 'b')])).toEqual(
      new Set([0, 1, 2, 3]),
    );
  });

  it('keeps what members own when it is balanced already', () => {
    const result = assigner.assign({
      members: new Map([
        ['a', owning([3, 1])],
        ['b', owning([0, 2])],
      ]),
      partitionCounts: counts,
    });
    expect(partitionsOf(result, 'a')).toEqual([1, 3]);
    expect(partitionsOf(result, 'b')).toEqual([0, 2]);
  });
});

describe('consumer protocol', () => {
  it('round-trips subscriptions and assignments', () => {
    expect(
      decodeSubscription(encodeSubscription({ topics: ['a', 'b'], userData: Buffer.from('x') })),
    ).toEqual({
      topics: ['a', 'b'],
      userData: Buffer.from('x'),
    });
    const assignment = new Map([
      ['a', [0, 2]],
      ['b', [1]],
    ]);
    expect(decodeAssignment(encodeAssignment(assignment))).toEqual(assignment);
  });

  it('round-trips a version 1 subscription with owned partitions', () => {
    const subscription = { topics: ['a'], userData: null, ownedPartitions: new Map([['a', [1, 3]]]) };
    expect(decodeSubscription(encodeSubscription(subscription))).toEqual(subscription);
  });

  it('reads the bytes Java writes for a subscription (version 0, no user data)', () => {
    // version 0, one topic "t", user data null
    const bytes = Buffer.from([0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0xff, 0xff, 0xff, 0xff]);
    expect(decodeSubscription(bytes)).toEqual({ topics: ['t'], userData: null });
    expect(encodeSubscription({ topics: ['t'], userData: null })).toEqual(bytes);
  });
});
