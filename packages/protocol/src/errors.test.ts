// Spot checks of the error table against Kafka's numbers (Errors.java, the protocol guide's table,
// librdkafka's rd_kafka_resp_err_t), around the gaps where a shifted row once hid: 57 and 61-67
// (log dirs, delegation tokens, principal types) are codes Gregor never sends, and the rows after
// each gap must keep Kafka's numbers.

import { describe, expect, it } from 'vitest';
import { ErrorCode, errorInfo } from './errors.js';

describe('Kafka error codes', () => {
  it.each([
    ['REASSIGNMENT_IN_PROGRESS', 60],
    ['NON_EMPTY_GROUP', 68],
    ['GROUP_ID_NOT_FOUND', 69],
    ['FETCH_SESSION_ID_NOT_FOUND', 70],
    ['INVALID_FETCH_SESSION_EPOCH', 71],
    ['LISTENER_NOT_FOUND', 72],
    ['FENCED_LEADER_EPOCH', 74],
  ] as const)('%s is %i', (name, code) => {
    expect(ErrorCode[name]).toBe(code);
    expect(errorInfo(code).name).toBe(name);
  });

  it('keeps fetch session errors retriable, as Kafka does', () => {
    expect(errorInfo(ErrorCode.FETCH_SESSION_ID_NOT_FOUND).retriable).toBe(true);
    expect(errorInfo(ErrorCode.INVALID_FETCH_SESSION_EPOCH).retriable).toBe(true);
    expect(errorInfo(ErrorCode.NON_EMPTY_GROUP).retriable).toBe(false);
  });
});
