// A big-endian cursor over a Buffer for Kafka's wire and on-disk formats.
// Every read is bounds-checked: malformed input raises a typed DecodeError (never a RangeError
// from deep inside Buffer), so callers can close a connection or refuse a batch cleanly.

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

/** Upper bound on element counts a decoder will accept, so a forged length cannot allocate the heap away. */
export const collectionCountMax = 1 << 24;

export class Reader {
  offset: number;

  constructor(
    readonly buffer: Buffer,
    offset = 0,
    readonly end = buffer.length,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(byteCount: number, what: string): void {
    if (byteCount < 0 || this.offset + byteCount > this.end) {
      throw new DecodeError(
        `truncated input reading ${what}: need ${byteCount} byte(s) at ${this.offset}, have ${this.end - this.offset}`,
      );
    }
  }

  int8(): number {
    this.need(1, 'int8');
    return this.buffer.readInt8(this.offset++);
  }

  uint8(): number {
    this.need(1, 'uint8');
    return this.buffer[this.offset++]!;
  }

  boolean(): boolean {
    return this.uint8() !== 0;
  }

  int16(): number {
    this.need(2, 'int16');
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  uint16(): number {
    this.need(2, 'uint16');
    const value = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.need(4, 'int32');
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint32(): number {
    this.need(4, 'uint32');
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  int64(): bigint {
    this.need(8, 'int64');
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  /** An int64 as a JS number; throws if it is not exactly representable. */
  int64Number(): number {
    const value = this.int64();
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new DecodeError(`int64 ${value} is beyond the exact range of a number`);
    }
    return Number(value);
  }

  float64(): number {
    this.need(8, 'float64');
    const value = this.buffer.readDoubleBE(this.offset);
    this.offset += 8;
    return value;
  }

  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1, 'varint');
      const byte = this.buffer[this.offset++]!;
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
    throw new DecodeError('varint longer than 5 bytes');
  }

  varint(): number {
    const raw = this.uvarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  uvarlong(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      this.need(1, 'varlong');
      const byte = this.buffer[this.offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw new DecodeError('varlong longer than 10 bytes');
  }

  varlong(): bigint {
    const raw = this.uvarlong();
    return BigInt.asIntN(64, (raw >> 1n) ^ -(raw & 1n));
  }

  /** A zig-zag varlong as a JS number (timestamps and deltas); exact within 2^53. */
  varlongNumber(): number {
    // Fast path: most deltas fit in a single-byte-to-4-byte varint.
    const start = this.offset;
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 7; i++) {
      this.need(1, 'varlong');
      const byte = this.buffer[this.offset++]!;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        // zig-zag decode without 32-bit truncation
        return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      }
      multiplier *= 128;
    }
    this.offset = start;
    const value = this.varlong();
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new DecodeError(`varlong ${value} is beyond the exact range of a number`);
    }
    return Number(value);
  }

  raw(byteCount: number): Buffer {
    this.need(byteCount, 'bytes');
    const slice = this.buffer.subarray(this.offset, this.offset + byteCount);
    this.offset += byteCount;
    return slice;
  }

  skip(byteCount: number): void {
    this.need(byteCount, 'skip');
    this.offset += byteCount;
  }

  string(): string {
    const value = this.nullableString();
    if (value === null) throw new DecodeError('null where a non-nullable string was expected');
    return value;
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    if (length < -1) throw new DecodeError(`invalid string length ${length}`);
    return this.raw(length).toString('utf8');
  }

  compactString(): string {
    const value = this.compactNullableString();
    if (value === null) throw new DecodeError('null where a non-nullable compact string was expected');
    return value;
  }

  compactNullableString(): string | null {
    const lengthPlusOne = this.uvarint();
    if (lengthPlusOne === 0) return null;
    return this.raw(lengthPlusOne - 1).toString('utf8');
  }

  bytes(): Buffer {
    const value = this.nullableBytes();
    if (value === null) throw new DecodeError('null where non-nullable bytes were expected');
    return value;
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < -1) throw new DecodeError(`invalid bytes length ${length}`);
    return this.raw(length);
  }

  compactBytes(): Buffer {
    const value = this.compactNullableBytes();
    if (value === null) throw new DecodeError('null where non-nullable compact bytes were expected');
    return value;
  }

  compactNullableBytes(): Buffer | null {
    const lengthPlusOne = this.uvarint();
    if (lengthPlusOne === 0) return null;
    return this.raw(lengthPlusOne - 1);
  }

  /** Zig-zag varint length + bytes, -1 for null (the record format's key, value and header fields). */
  varintBytes(): Buffer | null {
    const length = this.varint();
    if (length === -1) return null;
    if (length < -1) throw new DecodeError(`invalid varint bytes length ${length}`);
    return this.raw(length);
  }

  private checkedCount(count: number, what: string): number {
    if (count < 0 || count > collectionCountMax || count > this.remaining) {
      // Every element takes at least one byte, so a count above the bytes left is forged or torn.
      throw new DecodeError(`invalid ${what} count ${count} with ${this.remaining} byte(s) left`);
    }
    return count;
  }

  array<T>(readItem: (reader: Reader) => T): T[] {
    const value = this.nullableArray(readItem);
    if (value === null) throw new DecodeError('null where a non-nullable array was expected');
    return value;
  }

  nullableArray<T>(readItem: (reader: Reader) => T): T[] | null {
    const count = this.int32();
    if (count === -1) return null;
    const n = this.checkedCount(count, 'array');
    const items: T[] = new Array(n);
    for (let i = 0; i < n; i++) items[i] = readItem(this);
    return items;
  }

  compactArray<T>(readItem: (reader: Reader) => T): T[] {
    const value = this.compactNullableArray(readItem);
    if (value === null) throw new DecodeError('null where a non-nullable compact array was expected');
    return value;
  }

  compactNullableArray<T>(readItem: (reader: Reader) => T): T[] | null {
    const countPlusOne = this.uvarint();
    if (countPlusOne === 0) return null;
    const n = this.checkedCount(countPlusOne - 1, 'compact array');
    const items: T[] = new Array(n);
    for (let i = 0; i < n; i++) items[i] = readItem(this);
    return items;
  }

  /** Reads a tagged-field section; unknown tags are kept as raw bytes so they can be ignored or echoed. */
  taggedFields(): Map<number, Buffer> {
    const count = this.checkedCount(this.uvarint(), 'tagged field');
    const fields = new Map<number, Buffer>();
    let previousTag = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      if (tag <= previousTag)
        throw new DecodeError(`tagged fields out of order: ${tag} after ${previousTag}`);
      previousTag = tag;
      const size = this.uvarint();
      fields.set(tag, this.raw(size));
    }
    return fields;
  }
}
