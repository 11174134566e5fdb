import { InvariantViolation } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { RaftLog } from './log.js';
import type { LogEntry } from './types.js';

const entry = (offset: number, epoch: number, bytes = 1): LogEntry => ({
  offset,
  epoch,
  type: 'data',
  payload: new Uint8Array(bytes),
});

describe('RaftLog', () => {
  it('answers endOffsetForEpoch as KRaft: the largest epoch <= asked, and where it ends', () => {
    const log = new RaftLog({ endOffset: 2, epoch: 1 }, [entry(2, 1), entry(3, 3), entry(4, 3), entry(5, 5)]);
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: 5, endOffset: 6 });
    expect(log.endOffsetForEpoch(4)).toEqual({ epoch: 3, endOffset: 5 });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 1, endOffset: 3 });
    expect(log.endOffsetForEpoch(0)).toBeUndefined();
    expect(log.epochAt(1)).toBe(1);
  });

  it('slices by entry and byte limits but always returns one entry', () => {
    const log = new RaftLog({ endOffset: 0, epoch: 0 }, [entry(0, 1, 10), entry(1, 1, 10), entry(2, 1, 10)]);
    expect(log.slice(0, 2, 1000)).toHaveLength(2);
    expect(log.slice(0, 10, 15)).toHaveLength(1);
    expect(log.slice(0, 10, 1)).toHaveLength(1);
    expect(log.slice(3, 10, 100)).toHaveLength(0);
  });

  it('refuses appends out of order or with a lower epoch, and truncation into the snapshot', () => {
    const log = new RaftLog({ endOffset: 1, epoch: 2 }, [entry(1, 2)]);
    expect(() => log.append(entry(3, 2))).toThrow(InvariantViolation);
    expect(() => log.append(entry(2, 1))).toThrow(InvariantViolation);
    expect(() => log.truncateTo(0)).toThrow(InvariantViolation);
    log.truncateTo(1);
    expect(log.endOffset).toBe(1);
    expect(log.lastEpoch).toBe(2);
  });
});
