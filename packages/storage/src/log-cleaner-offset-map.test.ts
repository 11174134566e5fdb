import { describe, expect, it } from 'vitest';
import { OffsetMap, offsetMapSlotBytes } from './log-cleaner-offset-map.js';

const defaultDedupeBufferBytes = 128 * 1024 * 1024;
const key = (text: string) => Buffer.from(text);

describe('OffsetMap', () => {
  it('holds no table until the first put: a cleaner that never cleans costs no memory', () => {
    const map = new OffsetMap(defaultDedupeBufferBytes, 0.9);
    expect(map.slots).toBe(4 * 1024 * 1024);
    expect(map.allocatedBytes).toBe(0);
    expect(map.get(key('a'))).toBe(-1);
    map.clear();
    expect(map.allocatedBytes).toBe(0);
    expect(map.hasRoomFor(map.entriesMax)).toBe(true);
    map.put(key('a'), 7);
    expect(map.allocatedBytes).toBe(map.slots * offsetMapSlotBytes);
    expect(map.get(key('a'))).toBe(7);
    expect(map.get(key('b'))).toBe(-1);
    expect(map.entries).toBe(1);
  });

  it('keeps the latest offset per key and forgets everything on clear, keeping its table', () => {
    const map = new OffsetMap(64 * offsetMapSlotBytes, 0.5);
    map.put(key('a'), 1);
    map.put(key('b'), 2);
    map.put(key('a'), 3);
    expect(map.entries).toBe(2);
    expect(map.get(key('a'))).toBe(3);
    expect(map.get(key('b'))).toBe(2);
    const allocated = map.allocatedBytes;
    map.clear();
    expect(map.allocatedBytes).toBe(allocated);
    expect(map.entries).toBe(0);
    expect(map.get(key('a'))).toBe(-1);
    map.put(key('b'), 4);
    expect(map.get(key('b'))).toBe(4);
  });
});
