import { describe, expect, it } from 'vitest';
import { rangeAssigner, roundRobinAssigner } from './assigners.js';
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

  it('reads the bytes Java writes for a subscription (version 0, no user data)', () => {
    // version 0, one topic "t", user data null
    const bytes = Buffer.from([0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0xff, 0xff, 0xff, 0xff]);
    expect(decodeSubscription(bytes)).toEqual({ topics: ['t'], userData: null });
    expect(encodeSubscription({ topics: ['t'], userData: null })).toEqual(bytes);
  });
});
