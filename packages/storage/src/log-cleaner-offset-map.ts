// The log cleaner's key → latest offset map, as Kafka's SkimpyOffsetMap: a fixed block of memory
// (`log.cleaner.dedupe.buffer.size`) holding a 16-byte MD5 of each key and the offset of its latest
// record, in open addressing. Keys themselves are never stored, so a map of a few hundred MiB covers
// millions of keys whatever their size. Two keys with the same MD5 would be treated as one key (Kafka
// accepts the same 2^-128 risk per pair).
//
// Memory: `slots` slots of 24 bytes (16 hash + 8 offset), a power of two no larger than the buffer;
// the map is full at `loadFactor` of its slots so probe sequences stay short. The table is made on
// the first put, not with the map: every broker has a cleaner, but only one that cleans a
// compacted log needs the table (with the default buffer 96 MiB, of which the offsets' 32 MiB are
// written at once to mark every slot empty; the broker's resident memory grew by that much at the
// cleaner's first pass before, with no compacted log on the broker at all).

import { hash } from 'node:crypto';
import { invariant } from '@gregor/ground';

/** Bytes of one slot: the 16-byte MD5 of the key and a float64 offset. */
export const offsetMapSlotBytes = 24;
const hashWords = 4;
const emptySlot = -1;

export class OffsetMap {
  /** Slots in the table; a power of two, so an odd probe step visits every slot. */
  readonly slots: number;
  /** Entries the map accepts before it counts as full. */
  readonly entriesMax: number;
  /** Empty until the first put (see above). */
  private hashes = new Int32Array(0);
  private offsets = new Float64Array(0);
  private readonly mask: number;
  private entryCount = 0;
  /** Largest offset put since the last clear, -1 when none. */
  latestOffset = -1;

  constructor(memoryBytes: number, loadFactor: number) {
    invariant(
      memoryBytes >= 2 * offsetMapSlotBytes,
      () => `offset map of ${memoryBytes} bytes holds fewer than two slots`,
    );
    invariant(loadFactor > 0 && loadFactor < 1, () => `offset map load factor ${loadFactor}`);
    let slots = 1;
    while (slots * 2 * offsetMapSlotBytes <= memoryBytes) slots *= 2;
    this.slots = slots;
    this.mask = slots - 1;
    // At least one slot stays empty, so every probe sequence ends.
    this.entriesMax = Math.max(1, Math.min(slots - 1, Math.floor(slots * loadFactor)));
  }

  /** Bytes of the table now: 0 until the first put, then `slots` x offsetMapSlotBytes. */
  get allocatedBytes(): number {
    return this.hashes.byteLength + this.offsets.byteLength;
  }

  get entries(): number {
    return this.entryCount;
  }

  /** Room for `count` more entries (a batch is put whole or not at all). */
  hasRoomFor(count: number): boolean {
    return this.entryCount + count <= this.entriesMax;
  }

  clear(): void {
    // Without a table there is nothing to clear (and nothing to allocate yet).
    this.offsets.fill(emptySlot);
    this.entryCount = 0;
    this.latestOffset = -1;
  }

  /** Records `offset` as the latest for `key`; offsets must be put in increasing order. */
  put(key: Buffer, offset: number): void {
    invariant(offset > this.latestOffset, () => `offset map: ${offset} put after ${this.latestOffset}`);
    if (this.offsets.length === 0) {
      this.hashes = new Int32Array(this.slots * hashWords);
      this.offsets = new Float64Array(this.slots).fill(emptySlot);
    }
    const digest = hash('md5', key, 'buffer');
    const slot = this.find(digest);
    if (this.offsets[slot] === emptySlot) {
      invariant(this.entryCount < this.entriesMax, 'offset map is full');
      this.entryCount += 1;
      const at = slot * hashWords;
      this.hashes[at] = digest.readInt32LE(0);
      this.hashes[at + 1] = digest.readInt32LE(4);
      this.hashes[at + 2] = digest.readInt32LE(8);
      this.hashes[at + 3] = digest.readInt32LE(12);
    }
    this.offsets[slot] = offset;
    this.latestOffset = offset;
  }

  /** The latest offset put for `key`, or -1. */
  get(key: Buffer): number {
    if (this.offsets.length === 0) return emptySlot;
    return this.offsets[this.find(hash('md5', key, 'buffer'))]!;
  }

  /** The slot holding `digest`, or the empty slot where it would go (the table is never full). */
  private find(digest: Buffer): number {
    const w0 = digest.readInt32LE(0);
    const w1 = digest.readInt32LE(4);
    const w2 = digest.readInt32LE(8);
    const w3 = digest.readInt32LE(12);
    // Double hashing: start from one word, step by another made odd.
    const step = (w1 | 1) & this.mask;
    let slot = w0 & this.mask;
    for (let probes = 0; probes < this.slots; probes++) {
      if (this.offsets[slot] === emptySlot) return slot;
      const at = slot * hashWords;
      if (
        this.hashes[at] === w0 &&
        this.hashes[at + 1] === w1 &&
        this.hashes[at + 2] === w2 &&
        this.hashes[at + 3] === w3
      ) {
        return slot;
      }
      slot = (slot + step) & this.mask;
    }
    invariant(false, 'offset map has no empty slot');
  }
}
