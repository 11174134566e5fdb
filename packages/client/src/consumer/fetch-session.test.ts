import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { FetchSessionHandler, type SessionPartition } from './fetch-session.js';

const at = (partition: number, fetchOffset: bigint, topic = 't'): SessionPartition => ({
  topic,
  partition,
  fetchOffset,
  partitionMaxBytes: 1024,
});
const ok = (sessionId: number) => ({ errorCode: ErrorCode.NONE, sessionId });

describe('FetchSessionHandler', () => {
  it('sends a full fetch with epoch 0 first, then only added and changed partitions with the next epochs', () => {
    const handler = new FetchSessionHandler();
    const first = handler.build([at(0, 0n), at(1, 0n), at(2, 0n)]);
    expect(first).toMatchObject({ sessionId: 0, sessionEpoch: 0, full: true, forgotten: [] });
    expect(first.partitions).toHaveLength(3);
    expect(handler.handleResponse(first, ok(42))).toBe(true);

    const second = handler.build([at(0, 0n), at(1, 5n), at(2, 0n)]);
    expect(second).toMatchObject({ sessionId: 42, sessionEpoch: 1, full: false, forgotten: [] });
    expect(second.partitions).toEqual([at(1, 5n)]);
    handler.handleResponse(second, ok(42));

    // Partition 0 moved to another broker, partition 3 of another topic came: one forgotten, one added.
    const third = handler.build([at(1, 5n), at(2, 0n), at(3, 0n, 'u')]);
    expect(third).toMatchObject({ sessionEpoch: 2, forgotten: [{ topic: 't', partitions: [0] }] });
    expect(third.partitions).toEqual([at(3, 0n, 'u')]);
    handler.handleResponse(third, ok(42));
    expect(handler.build([at(1, 5n), at(2, 0n), at(3, 0n, 'u')])).toMatchObject({
      sessionEpoch: 3,
      partitions: [],
      forgotten: [],
    });
  });

  it('keeps fetching in full when the broker gives no session (session id 0)', () => {
    const handler = new FetchSessionHandler();
    for (let round = 0; round < 3; round++) {
      const request = handler.build([at(0, BigInt(round))]);
      expect(request).toMatchObject({
        sessionId: 0,
        sessionEpoch: 0,
        full: true,
        partitions: [at(0, BigInt(round))],
      });
      expect(handler.handleResponse(request, ok(0))).toBe(true);
    }
  });

  it('starts a new session after FETCH_SESSION_ID_NOT_FOUND, and closes the old one after INVALID_FETCH_SESSION_EPOCH', () => {
    const handler = new FetchSessionHandler();
    handler.handleResponse(handler.build([at(0, 0n)]), ok(42));
    const lost = handler.build([at(0, 0n)]);
    expect(
      handler.handleResponse(lost, { errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0 }),
    ).toBe(false);
    expect(handler.build([at(0, 0n)])).toMatchObject({
      sessionId: 0,
      sessionEpoch: 0,
      full: true,
      partitions: [at(0, 0n)],
    });

    const renewed = new FetchSessionHandler();
    renewed.handleResponse(renewed.build([at(0, 0n)]), ok(42));
    const stale = renewed.build([at(0, 0n)]);
    expect(
      renewed.handleResponse(stale, { errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH, sessionId: 0 }),
    ).toBe(false);
    // Epoch 0 naming session 42: the broker closes it and opens a new one.
    const full = renewed.build([at(0, 0n)]);
    expect(full).toMatchObject({ sessionId: 42, sessionEpoch: 0, full: true, partitions: [at(0, 0n)] });
    renewed.handleResponse(full, ok(43));
    expect(renewed.build([at(0, 0n)])).toMatchObject({ sessionId: 43, sessionEpoch: 1, full: false });
  });

  it('fetches in full after a request that got no answer', () => {
    const handler = new FetchSessionHandler();
    handler.handleResponse(handler.build([at(0, 0n)]), ok(42));
    handler.build([at(0, 3n)]);
    handler.handleError();
    expect(handler.build([at(0, 3n)])).toMatchObject({ sessionId: 42, sessionEpoch: 0, full: true });
  });

  it('fetches in full after the broker closed the session in an incremental answer', () => {
    const handler = new FetchSessionHandler();
    handler.handleResponse(handler.build([at(0, 0n)]), ok(42));
    const incremental = handler.build([at(0, 1n)]);
    expect(handler.handleResponse(incremental, ok(0))).toBe(true);
    expect(handler.build([at(0, 1n)])).toMatchObject({ sessionId: 0, sessionEpoch: 0, full: true });
  });
});
