// The two segment indexes over their shared base (abstract-index.ts): growth past the initial
// arrays, floor lookups, truncation, limits, and Kafka's byte format both ways.

import { InvariantViolation } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { indexInitialCapacityEntries } from './abstract-index.js';
import { OffsetIndex, offsetIndexEntryBytes } from './offset-index.js';
import { TimeIndex, timeIndexEntryBytes } from './time-index.js';

const entryCount = indexInitialCapacityEntries * 5 + 3;

describe('OffsetIndex', () => {
  const filled = (): OffsetIndex => {
    const index = new OffsetIndex(entryCount);
    for (let i = 0; i < entryCount; i++) expect(index.add(10 * (i + 1), 100 * (i + 1))).toBe(true);
    return index;
  };

  it('grows past its initial arrays and finds the greatest entry at or below a target', () => {
    const index = filled();
    expect(index.entries).toBe(entryCount);
    expect(index.floorEntry(9)).toBe(-1);
    expect(index.lookupPosition(9)).toBe(0);
    expect(index.floorEntry(10)).toBe(0);
    expect(index.lookupPosition(255)).toBe(2500);
    expect(index.floorEntry(Number.MAX_SAFE_INTEGER)).toBe(entryCount - 1);
  });

  it('refuses an entry past its limit and one that does not increase', () => {
    const index = filled();
    expect(index.isFull).toBe(true);
    expect(index.add(10 * (entryCount + 1), 100 * (entryCount + 1))).toBe(false);
    const small = new OffsetIndex(4);
    small.add(10, 100);
    expect(() => small.add(10, 200)).toThrow(InvariantViolation);
  });

  it('truncates from the end and forgets what was written of the dropped entries', () => {
    const index = filled();
    index.writtenCount = index.entries;
    index.truncateToRelativeOffset(35);
    expect(index.entries).toBe(3);
    expect(index.writtenCount).toBe(3);
    expect(index.relativeOffsetAt(2)).toBe(30);
    index.clear();
    expect(index.entries).toBe(0);
  });

  it("writes Kafka's 8-byte entries and parses them back; padding ends the index", () => {
    const index = filled();
    const bytes = index.encode();
    expect(bytes.length).toBe(entryCount * offsetIndexEntryBytes);
    expect(bytes.readInt32BE(8)).toBe(20);
    expect(bytes.readInt32BE(12)).toBe(200);
    const padded = Buffer.concat([bytes, Buffer.alloc(3 * offsetIndexEntryBytes)]);
    const parsed = OffsetIndex.parse(padded, entryCount, 1_000_000);
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(parsed.entries).toBe(entryCount);
    expect(parsed.writtenCount).toBe(entryCount);
    expect(parsed.encode()).toEqual(bytes);
    expect(index.encode(entryCount - 1)).toEqual(bytes.subarray((entryCount - 1) * offsetIndexEntryBytes));
    expect(OffsetIndex.parse(bytes.subarray(1), entryCount, 1_000_000)).toMatch(/not a multiple of 8/);
    expect(OffsetIndex.parse(bytes, entryCount, 300)).toMatch(/outside the segment/);
  });
});

describe('TimeIndex', () => {
  it('grows, keeps only growing timestamps, and writes a final entry past its limit', () => {
    const index = new TimeIndex(entryCount);
    for (let i = 0; i < entryCount; i++) expect(index.maybeAdd(1000 + i, i)).toBe(true);
    expect(index.maybeAdd(1000, entryCount)).toBe(false);
    expect(index.isFull).toBe(true);
    expect(index.maybeAdd(5000, entryCount)).toBe(false);
    expect(index.maybeAdd(5000, entryCount, true)).toBe(true);
    expect(index.entries).toBe(entryCount + 1);
    expect(index.lastTimestamp).toBe(5000);
    expect(index.floorEntry(1002.5)).toBe(2);
    expect(index.floorEntry(999)).toBe(-1);
  });

  it("truncates by offset, and round-trips through Kafka's 12-byte entries", () => {
    const index = new TimeIndex(100);
    for (let i = 0; i < entryCount; i++) index.maybeAdd(1_700_000_000_000 + i, 2 * i);
    const bytes = index.encode();
    expect(bytes.length).toBe(entryCount * timeIndexEntryBytes);
    const parsed = TimeIndex.parse(bytes, 100);
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(parsed.encode()).toEqual(bytes);
    parsed.truncateToRelativeOffset(7);
    expect(parsed.entries).toBe(4);
    expect(parsed.relativeOffsetAt(3)).toBe(6);
    expect(TimeIndex.parse(bytes, 10)).toMatch(/more than 10 entries/);
  });
});
