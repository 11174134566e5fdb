import { SeededRandom } from '@gregor/ground';
import { ErrorCode, zeroUuid } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import {
  type CachedPartition,
  type FetchSession,
  FetchSessionCache,
  type FetchSessionCacheLimits,
  invalidSessionId,
  minIncrementalFetchSessionEvictionMs,
  mustAnswer,
  nextSessionEpoch,
  type SessionPartitionRequest,
  type SessionPartitionResult,
} from './fetch-session-cache.js';

const limits: FetchSessionCacheLimits = {
  slots: 2,
  evictionMs: minIncrementalFetchSessionEvictionMs,
  cachedPartitionsMax: 100,
};

function wanted(topic: string, partition: number, fetchOffset = 0): SessionPartitionRequest {
  return {
    topic,
    topicId: zeroUuid,
    partition,
    fetchOffset,
    currentLeaderEpoch: -1,
    partitionMaxBytes: 1024,
  };
}

function result(
  highWatermark: number,
  recordsBytes = 0,
  errorCode: number = ErrorCode.NONE,
): SessionPartitionResult {
  return { errorCode, highWatermark, lastStableOffset: highWatermark, logStartOffset: 0, recordsBytes };
}

/** A full fetch of `partitions` (all at high watermark 5) at `nowMs`: the session id it got. */
function fullFetch(
  cache: FetchSessionCache,
  partitions: readonly SessionPartitionRequest[],
  nowMs: number,
): number {
  const context = cache.newContext(
    { sessionId: 0, sessionEpoch: 0, usesTopicIds: false, partitions, forgotten: [] },
    nowMs,
  );
  expect(context.kind).toBe('full');
  return cache.createSession(
    partitions.map((request) => ({ request, result: result(5) })),
    false,
    nowMs,
  );
}

function incremental(
  cache: FetchSessionCache,
  sessionId: number,
  sessionEpoch: number,
  partitions: readonly SessionPartitionRequest[] = [],
  forgotten: { topic: string; partitions: number[] }[] = [],
  nowMs = 0,
) {
  return cache.newContext(
    {
      sessionId,
      sessionEpoch,
      usesTopicIds: false,
      partitions,
      forgotten: forgotten.map((topic) => ({ ...topic, topicId: zeroUuid })),
    },
    nowMs,
  );
}

function sessionOf(context: ReturnType<typeof incremental>): FetchSession {
  if (context.kind !== 'incremental') throw new Error(`expected an incremental context, got ${context.kind}`);
  return context.session;
}

describe('FetchSessionCache', () => {
  it('creates a session on a full fetch with epoch 0 and expects epoch 1, then 2', () => {
    const cache = new FetchSessionCache(limits, new SeededRandom(1));
    const id = fullFetch(cache, [wanted('a', 0), wanted('a', 1)], 0);
    expect(id).not.toBe(invalidSessionId);
    expect(cache.sessionCount).toBe(1);
    expect(cache.cachedPartitionCount).toBe(2);
    expect(incremental(cache, id, 2).kind).toBe('error');
    const first = incremental(cache, id, 1);
    expect(sessionOf(first).epoch).toBe(2);
    expect(incremental(cache, id, 1)).toEqual({
      kind: 'error',
      errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH,
    });
    expect(incremental(cache, id, 2).kind).toBe('incremental');
  });

  it('answers an unknown session id with FETCH_SESSION_ID_NOT_FOUND', () => {
    const cache = new FetchSessionCache(limits, new SeededRandom(1));
    expect(incremental(cache, 1234, 1)).toEqual({
      kind: 'error',
      errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
    });
  });

  it('serves epoch -1 without a session and closes the session a full fetch names', () => {
    const cache = new FetchSessionCache(limits, new SeededRandom(1));
    const sessionless = cache.newContext(
      { sessionId: 0, sessionEpoch: -1, usesTopicIds: false, partitions: [wanted('a', 0)], forgotten: [] },
      0,
    );
    expect(sessionless.kind).toBe('sessionless');
    expect(cache.sessionCount).toBe(0);
    const id = fullFetch(cache, [wanted('a', 0)], 0);
    const closing = cache.newContext(
      { sessionId: id, sessionEpoch: -1, usesTopicIds: false, partitions: [], forgotten: [] },
      0,
    );
    expect(closing.kind).toBe('sessionless');
    expect(cache.sessionCount).toBe(0);
    expect(incremental(cache, id, 1).kind).toBe('error');
    // Epoch 0 with an id replaces that session by a new one.
    const old = fullFetch(cache, [wanted('a', 0)], 0);
    const renewed = cache.newContext(
      { sessionId: old, sessionEpoch: 0, usesTopicIds: false, partitions: [wanted('a', 0)], forgotten: [] },
      0,
    );
    expect(renewed.kind).toBe('full');
    expect(cache.session(old)).toBeUndefined();
  });

  it('creates no session for a fetch of no partitions or with zero slots', () => {
    expect(fullFetch(new FetchSessionCache(limits, new SeededRandom(1)), [], 0)).toBe(invalidSessionId);
    const none = new FetchSessionCache({ ...limits, slots: 0 }, new SeededRandom(1));
    expect(fullFetch(none, [wanted('a', 0)], 0)).toBe(invalidSessionId);
  });

  it('adds, alters and forgets partitions in an incremental fetch; an emptied session is dropped', () => {
    const cache = new FetchSessionCache(limits, new SeededRandom(1));
    const id = fullFetch(cache, [wanted('a', 0), wanted('a', 1)], 0);
    const session = sessionOf(
      incremental(cache, id, 1, [wanted('a', 1, 7), wanted('b', 0)], [{ topic: 'a', partitions: [0] }]),
    );
    expect([...session.partitions.values()].map((p) => [p.topic, p.partition, p.fetchOffset])).toEqual([
      ['a', 1, 7],
      ['b', 0, 0],
    ]);
    expect(cache.cachedPartitionCount).toBe(2);
    const emptied = incremental(
      cache,
      id,
      2,
      [],
      [
        { topic: 'a', partitions: [1] },
        { topic: 'b', partitions: [0] },
      ],
    );
    expect(emptied.kind).toBe('sessionless');
    expect(cache.sessionCount).toBe(0);
    expect(cache.cachedPartitionCount).toBe(0);
  });

  it('drops a session that grows past the cached partitions limit and serves that fetch without one', () => {
    const cache = new FetchSessionCache({ ...limits, cachedPartitionsMax: 3 }, new SeededRandom(1));
    const id = fullFetch(cache, [wanted('a', 0), wanted('a', 1)], 0);
    expect(incremental(cache, id, 1, [wanted('a', 2)]).kind).toBe('incremental');
    expect(incremental(cache, id, 2, [wanted('a', 3)]).kind).toBe('sessionless');
    expect(cache.sessionCount).toBe(0);
    expect(cache.cachedPartitionCount).toBe(0);
    expect(fullFetch(cache, [wanted('a', 0), wanted('a', 1), wanted('a', 2), wanted('a', 3)], 0)).toBe(
      invalidSessionId,
    );
  });

  it('when full, evicts the least recently used session once it has been idle past the eviction time', () => {
    const cache = new FetchSessionCache(limits, new SeededRandom(1));
    const first = fullFetch(cache, [wanted('a', 0)], 0);
    const second = fullFetch(cache, [wanted('a', 0)], 1000);
    expect(fullFetch(cache, [wanted('a', 0)], 2000)).toBe(invalidSessionId);
    // Only the first goes idle: the second is used again.
    incremental(cache, second, 1, [], [], 100_000);
    expect(fullFetch(cache, [wanted('a', 0)], minIncrementalFetchSessionEvictionMs)).toBe(invalidSessionId);
    const third = fullFetch(cache, [wanted('a', 0)], minIncrementalFetchSessionEvictionMs + 1);
    expect(third).not.toBe(invalidSessionId);
    expect(cache.session(first)).toBeUndefined();
    expect(cache.session(second)).toBeDefined();
    expect(cache.evictionCount).toBe(1);
  });

  it('when full and nothing is idle, a larger session evicts the smallest one older than the eviction time', () => {
    const cache = new FetchSessionCache(limits, new SeededRandom(1));
    const small = fullFetch(cache, [wanted('a', 0)], 0);
    const large = fullFetch(cache, [wanted('a', 0), wanted('a', 1), wanted('a', 2)], 0);
    const later = minIncrementalFetchSessionEvictionMs + 10;
    incremental(cache, small, 1, [], [], later);
    incremental(cache, large, 1, [], [], later);
    // One partition is not more than the smallest session's one: nothing is evicted.
    expect(fullFetch(cache, [wanted('b', 0)], later)).toBe(invalidSessionId);
    const two = fullFetch(cache, [wanted('b', 0), wanted('b', 1)], later);
    expect(two).not.toBe(invalidSessionId);
    expect(cache.session(small)).toBeUndefined();
    expect(cache.session(large)).toBeDefined();
    expect(cache.evictionCount).toBe(1);
    // The new session is recent: it cannot be evicted by a larger one yet, and the large one is not smaller.
    expect(fullFetch(cache, [wanted('c', 0), wanted('c', 1), wanted('c', 2)], later)).toBe(invalidSessionId);
  });

  it('draws distinct non-zero session ids', () => {
    const cache = new FetchSessionCache({ ...limits, slots: 50 }, new SeededRandom(7));
    const ids = Array.from({ length: 50 }, () => fullFetch(cache, [wanted('a', 0)], 0));
    expect(new Set(ids).size).toBe(50);
    expect(ids.every((id) => id > 0)).toBe(true);
  });

  it('wraps the epoch to 1 after the largest int and keeps -1 final', () => {
    expect(nextSessionEpoch(0)).toBe(1);
    expect(nextSessionEpoch(41)).toBe(42);
    expect(nextSessionEpoch(0x7fffffff)).toBe(1);
    expect(nextSessionEpoch(-1)).toBe(-1);
  });
});

describe('the incremental answer', () => {
  function cached(highWatermark: number): CachedPartition {
    return {
      topic: 'a',
      topicId: zeroUuid,
      partition: 0,
      fetchOffset: 0,
      currentLeaderEpoch: -1,
      partitionMaxBytes: 1024,
      highWatermark,
      lastStableOffset: highWatermark,
      logStartOffset: 0,
    };
  }

  it('leaves out a partition with nothing new', () => {
    expect(mustAnswer(cached(5), result(5))).toBe(false);
  });

  it('answers records, a moved high watermark, log start or last stable offset, and errors', () => {
    expect(mustAnswer(cached(5), result(5, 100))).toBe(true);
    const moved = cached(5);
    expect(mustAnswer(moved, result(6))).toBe(true);
    expect(moved.highWatermark).toBe(6);
    expect(mustAnswer(moved, result(6))).toBe(false);
    expect(mustAnswer(cached(5), { ...result(5), logStartOffset: 3 })).toBe(true);
    expect(mustAnswer(cached(5), { ...result(5), lastStableOffset: 4 })).toBe(true);
  });

  it('keeps answering a partition in error, and answers it once more when the error clears', () => {
    const partition = cached(5);
    const notLeader = result(-1, 0, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(mustAnswer(partition, notLeader)).toBe(true);
    expect(mustAnswer(partition, notLeader)).toBe(true);
    expect(partition.highWatermark).toBe(-1);
    expect(mustAnswer(partition, result(5))).toBe(true);
    expect(mustAnswer(partition, result(5))).toBe(false);
  });

  it('moves answered partitions to the end of the session', () => {
    const cache = new FetchSessionCache(limits, new SeededRandom(1));
    const id = fullFetch(cache, [wanted('a', 0), wanted('a', 1), wanted('a', 2)], 0);
    const session = sessionOf(incremental(cache, id, 1));
    const order = [...session.partitions.values()];
    const answered = cache.incrementalAnswer(
      session,
      order.map((partition, index) => ({ cached: partition, result: result(5, index === 0 ? 10 : 0) })),
    );
    expect(answered).toHaveLength(1);
    expect([...session.partitions.values()].map((p) => p.partition)).toEqual([1, 2, 0]);
  });
});
