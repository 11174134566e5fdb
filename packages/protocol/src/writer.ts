// A growable big-endian byte writer for Kafka's wire and on-disk formats.
// Kafka primitives: https://kafka.apache.org/protocol#protocol_types

const initialCapacityBytes = 256;

export class Writer {
  private buffer: Buffer;
  private length = 0;

  constructor(capacityBytes = initialCapacityBytes) {
    this.buffer = Buffer.allocUnsafe(Math.max(16, capacityBytes));
  }

  /** Bytes written so far. */
  get offset(): number {
    return this.length;
  }

  /** Bytes the buffer holds before it must grow. */
  get capacity(): number {
    return this.buffer.length;
  }

  private ensure(extraBytes: number): void {
    const needed = this.length + extraBytes;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  int8(value: number): this {
    this.ensure(1);
    this.buffer.writeInt8(value, this.length);
    this.length += 1;
    return this;
  }

  uint8(value: number): this {
    this.ensure(1);
    this.buffer.writeUInt8(value, this.length);
    this.length += 1;
    return this;
  }

  boolean(value: boolean): this {
    return this.uint8(value ? 1 : 0);
  }

  int16(value: number): this {
    this.ensure(2);
    this.buffer.writeInt16BE(value, this.length);
    this.length += 2;
    return this;
  }

  uint16(value: number): this {
    this.ensure(2);
    this.buffer.writeUInt16BE(value, this.length);
    this.length += 2;
    return this;
  }

  int32(value: number): this {
    this.ensure(4);
    this.buffer.writeInt32BE(value, this.length);
    this.length += 4;
    return this;
  }

  uint32(value: number): this {
    this.ensure(4);
    this.buffer.writeUInt32BE(value >>> 0, this.length);
    this.length += 4;
    return this;
  }

  int64(value: bigint): this {
    this.ensure(8);
    this.buffer.writeBigInt64BE(value, this.length);
    this.length += 8;
    return this;
  }

  /** An int64 given as a JS number; exact for |value| <= 2^53. */
  int64Number(value: number): this {
    return this.int64(BigInt(value));
  }

  float64(value: number): this {
    this.ensure(8);
    this.buffer.writeDoubleBE(value, this.length);
    this.length += 8;
    return this;
  }

  /** Unsigned LEB128 varint of a 32-bit value. */
  uvarint(value: number): this {
    let v = value >>> 0;
    // Only the bytes it takes: a writer sized exactly (a record batch) must not grow for its last one.
    this.ensure(v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20_0000 ? 3 : v < 0x1000_0000 ? 4 : 5);
    while (v >= 0x80) {
      this.buffer[this.length++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buffer[this.length++] = v;
    return this;
  }

  /** Zig-zag encoded signed 32-bit varint. */
  varint(value: number): this {
    return this.uvarint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /** Unsigned varint of a 64-bit value. */
  uvarlong(value: bigint): this {
    let v = BigInt.asUintN(64, value);
    let bytes = 1;
    for (let rest = v >> 7n; rest > 0n; rest >>= 7n) bytes++;
    this.ensure(bytes);
    while (v >= 0x80n) {
      this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.length++] = Number(v);
    return this;
  }

  /** Zig-zag encoded signed 64-bit varlong. Small values take the 32-bit path for speed. */
  varlong(value: bigint | number): this {
    if (typeof value === 'number') {
      if (value >= -0x40000000 && value < 0x40000000 && Number.isInteger(value)) return this.varint(value);
      value = BigInt(value);
    }
    const v = BigInt.asIntN(64, value);
    return this.uvarlong(BigInt.asUintN(64, (v << 1n) ^ (v >> 63n)));
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  /** INT16 length + UTF-8 bytes; -1 for null. */
  string(value: string | null): this {
    if (value === null) return this.int16(-1);
    const bytes = Buffer.from(value, 'utf8');
    return this.int16(bytes.length).raw(bytes);
  }

  /** UNSIGNED_VARINT (length + 1) + UTF-8 bytes; 0 for null. */
  compactString(value: string | null): this {
    if (value === null) return this.uvarint(0);
    const bytes = Buffer.from(value, 'utf8');
    return this.uvarint(bytes.length + 1).raw(bytes);
  }

  /** INT32 length + bytes; -1 for null. */
  bytes(value: Uint8Array | null): this {
    if (value === null) return this.int32(-1);
    return this.int32(value.length).raw(value);
  }

  /** UNSIGNED_VARINT (length + 1) + bytes; 0 for null. */
  compactBytes(value: Uint8Array | null): this {
    if (value === null) return this.uvarint(0);
    return this.uvarint(value.length + 1).raw(value);
  }

  /** Zig-zag VARINT length + bytes; -1 for null (the record format's fields). */
  varintBytes(value: Uint8Array | null): this {
    if (value === null) return this.varint(-1);
    return this.varint(value.length).raw(value);
  }

  /** INT32 count + items; -1 for null. */
  array<T>(items: readonly T[] | null, writeItem: (writer: this, item: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const item of items) writeItem(this, item);
    return this;
  }

  /** UNSIGNED_VARINT (count + 1) + items; 0 for null. */
  compactArray<T>(items: readonly T[] | null, writeItem: (writer: this, item: T) => void): this {
    if (items === null) return this.uvarint(0);
    this.uvarint(items.length + 1);
    for (const item of items) writeItem(this, item);
    return this;
  }

  /** A tagged-field section: count, then (tag, size, bytes) in ascending tag order. */
  taggedFields(fields: ReadonlyMap<number, Uint8Array> | null = null): this {
    if (fields === null || fields.size === 0) return this.uvarint(0);
    const tags = [...fields.keys()].sort((a, b) => a - b);
    this.uvarint(tags.length);
    for (const tag of tags) {
      const data = fields.get(tag)!;
      this.uvarint(tag).uvarint(data.length).raw(data);
    }
    return this;
  }

  /** Overwrite an int32 at an earlier position (length prefixes written after the fact). */
  patchInt32(position: number, value: number): this {
    this.buffer.writeInt32BE(value, position);
    return this;
  }

  patchUInt32(position: number, value: number): this {
    this.buffer.writeUInt32BE(value >>> 0, position);
    return this;
  }

  /** Reserve `byteCount` bytes to be patched later; returns their position. */
  reserve(byteCount: number): number {
    this.ensure(byteCount);
    const position = this.length;
    this.length += byteCount;
    return position;
  }

  /** A view of the bytes written so far (shares memory with the writer until it grows). */
  view(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** A copy of the bytes written so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }
}
