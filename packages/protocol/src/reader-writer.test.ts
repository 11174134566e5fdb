import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, Reader } from './reader.js';
import { Writer } from './writer.js';

const int32Edges = [0, 1, -1, 63, -64, 64, 127, 128, 2 ** 31 - 1, -(2 ** 31), 2 ** 30, -(2 ** 30) - 1];
const int64Edges = [
  0n,
  1n,
  -1n,
  2n ** 31n - 1n,
  -(2n ** 31n),
  2n ** 53n - 1n,
  -(2n ** 53n) + 1n,
  2n ** 53n,
  -(2n ** 53n),
  2n ** 63n - 1n,
  -(2n ** 63n),
];

function roundTrip<T>(write: (writer: Writer, value: T) => void, read: (reader: Reader) => T, value: T): T {
  const writer = new Writer(1);
  write(writer, value);
  const reader = new Reader(writer.toBuffer());
  const result = read(reader);
  expect(reader.remaining).toBe(0);
  return result;
}

function checkRoundTrip<T>(
  arbitrary: fc.Arbitrary<T>,
  write: (writer: Writer, value: T) => void,
  read: (reader: Reader) => T,
  edges: readonly T[] = [],
): void {
  for (const value of edges) expect(roundTrip(write, read, value)).toEqual(value);
  fc.assert(
    fc.property(arbitrary, (value) => {
      expect(roundTrip(write, read, value)).toEqual(value);
    }),
  );
}

const nullableBuffer: fc.Arbitrary<Buffer | null> = fc.option(
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  { nil: null },
);
const nullableText = fc.option(fc.string({ unit: 'grapheme', maxLength: 100 }), { nil: null });

describe('Reader/Writer round trips', () => {
  it('fixed-width integers', () => {
    checkRoundTrip(
      fc.integer({ min: -128, max: 127 }),
      (w, v) => w.int8(v),
      (r) => r.int8(),
      [-128, 127, 0],
    );
    checkRoundTrip(
      fc.integer({ min: 0, max: 255 }),
      (w, v) => w.uint8(v),
      (r) => r.uint8(),
      [0, 255],
    );
    checkRoundTrip(
      fc.boolean(),
      (w, v) => w.boolean(v),
      (r) => r.boolean(),
      [true, false],
    );
    checkRoundTrip(
      fc.integer({ min: -32768, max: 32767 }),
      (w, v) => w.int16(v),
      (r) => r.int16(),
      [-32768, 32767],
    );
    checkRoundTrip(
      fc.integer({ min: 0, max: 65535 }),
      (w, v) => w.uint16(v),
      (r) => r.uint16(),
      [0, 65535],
    );
    checkRoundTrip(
      fc.integer(),
      (w, v) => w.int32(v),
      (r) => r.int32(),
      int32Edges,
    );
    checkRoundTrip(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      (w, v) => w.uint32(v),
      (r) => r.uint32(),
      [0, 2 ** 32 - 1],
    );
    checkRoundTrip(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      (w, v) => w.int64(v),
      (r) => r.int64(),
      int64Edges,
    );
    checkRoundTrip(
      fc.maxSafeInteger(),
      (w, v) => w.int64Number(v),
      (r) => r.int64Number(),
      [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -1],
    );
    checkRoundTrip(
      fc.double({ noNaN: true }),
      (w, v) => w.float64(v),
      (r) => r.float64(),
      [0, -1.5, Infinity],
    );
  });

  it('varints and varlongs, including their edge values', () => {
    checkRoundTrip(
      fc.integer(),
      (w, v) => w.varint(v),
      (r) => r.varint(),
      int32Edges,
    );
    checkRoundTrip(
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      (w, v) => w.uvarint(v),
      (r) => r.uvarint(),
      [0, 127, 128, 2 ** 32 - 1],
    );
    checkRoundTrip(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      (w, v) => w.varlong(v),
      (r) => r.varlong(),
      int64Edges,
    );
    checkRoundTrip(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      (w, v) => w.uvarlong(v),
      (r) => r.uvarlong(),
      [0n, 2n ** 64n - 1n],
    );
    // Timestamps and deltas travel as numbers: exact across the whole safe-integer range.
    checkRoundTrip(
      fc.maxSafeInteger(),
      (w, v) => w.varlong(v),
      (r) => r.varlongNumber(),
      [
        0,
        1,
        -1,
        2 ** 31 - 1,
        -(2 ** 31),
        2 ** 49,
        -(2 ** 49) - 1,
        Number.MAX_SAFE_INTEGER,
        Number.MIN_SAFE_INTEGER,
      ],
    );
  });

  it('agrees with the zig-zag bytes Kafka documents', () => {
    // ByteUtils: 0 -> 00, -1 -> 01, 1 -> 02, -64 -> 7f, 64 -> 80 01, 2^31-1 -> fe ff ff ff 0f.
    const encode = (v: number) => new Writer().varint(v).toBuffer().toString('hex');
    expect([0, -1, 1, -64, 64, 2 ** 31 - 1, -(2 ** 31)].map(encode)).toEqual([
      '00',
      '01',
      '02',
      '7f',
      '8001',
      'feffffff0f',
      'ffffffff0f',
    ]);
    expect(
      new Writer()
        .varlong(-(2n ** 63n))
        .toBuffer()
        .toString('hex'),
    ).toBe('ffffffffffffffffff01');
  });

  it('a varlong number beyond 2^53 is refused, not rounded', () => {
    const reader = new Reader(new Writer().varlong(2n ** 60n).toBuffer());
    expect(() => reader.varlongNumber()).toThrow(DecodeError);
  });

  it('strings, bytes and their nullable and compact forms', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 100 });
    const bytes: fc.Arbitrary<Buffer> = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));
    checkRoundTrip(
      text,
      (w, v) => w.string(v),
      (r) => r.string(),
      ['', 'ü€😀'],
    );
    checkRoundTrip(
      nullableText,
      (w, v) => w.string(v),
      (r) => r.nullableString(),
      [null],
    );
    checkRoundTrip(
      text,
      (w, v) => w.compactString(v),
      (r) => r.compactString(),
      [''],
    );
    checkRoundTrip(
      nullableText,
      (w, v) => w.compactString(v),
      (r) => r.compactNullableString(),
      [null],
    );
    checkRoundTrip(
      bytes,
      (w, v) => w.bytes(v),
      (r) => r.bytes(),
      [Buffer.alloc(0)],
    );
    checkRoundTrip(
      nullableBuffer,
      (w, v) => w.bytes(v),
      (r) => r.nullableBytes(),
      [null],
    );
    checkRoundTrip(
      bytes,
      (w, v) => w.compactBytes(v),
      (r) => r.compactBytes(),
    );
    checkRoundTrip(
      nullableBuffer,
      (w, v) => w.compactBytes(v),
      (r) => r.compactNullableBytes(),
      [null],
    );
    checkRoundTrip(
      nullableBuffer,
      (w, v) => w.varintBytes(v),
      (r) => r.varintBytes(),
      [null, Buffer.alloc(0)],
    );
  });

  it('arrays, compact arrays and their null forms', () => {
    const items = fc.option(fc.array(fc.integer(), { maxLength: 50 }), { nil: null });
    checkRoundTrip(
      items,
      (w, v) => w.array(v, (writer, item) => writer.int32(item)),
      (r) => r.nullableArray((reader) => reader.int32()),
      [null, []],
    );
    checkRoundTrip(
      items,
      (w, v) => w.compactArray(v, (writer, item) => writer.varint(item)),
      (r) => r.compactNullableArray((reader) => reader.varint()),
      [null, []],
    );
  });

  it('tagged fields, in ascending tag order whatever the insertion order', () => {
    const fields = fc
      .uniqueArray(fc.tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.uint8Array({ maxLength: 40 })), {
        selector: ([tag]) => tag,
        maxLength: 10,
      })
      .map((entries) => new Map(entries.map(([tag, data]) => [tag, Buffer.from(data)])));
    fc.assert(
      fc.property(fields, (map) => {
        const decoded = roundTrip(
          (w, v: Map<number, Buffer>) => w.taggedFields(v),
          (r) => r.taggedFields(),
          map,
        );
        expect([...decoded.keys()]).toEqual([...map.keys()].sort((a, b) => a - b));
        for (const [tag, data] of map) expect(decoded.get(tag)).toEqual(data);
      }),
    );
    const outOfOrder = Buffer.from([2, 5, 0, 3, 0]);
    expect(() => new Reader(outOfOrder).taggedFields()).toThrow(DecodeError);
  });

  it('every truncation of valid input is a DecodeError, never a RangeError', () => {
    const writer = new Writer()
      .int64(-5n)
      .compactString('topic')
      .varlong(2n ** 40n)
      .bytes(Buffer.from('payload'))
      .compactArray([1, 2], (w, v) => w.int32(v))
      .taggedFields(new Map([[1, Buffer.from('x')]]));
    const full = writer.toBuffer();
    for (let cut = 0; cut < full.length; cut++) {
      const reader = new Reader(full.subarray(0, cut));
      expect(() => {
        reader.int64();
        reader.compactString();
        reader.varlong();
        reader.bytes();
        reader.compactArray((r) => r.int32());
        reader.taggedFields();
      }).toThrow(DecodeError);
    }
  });

  it('refuses forged counts and over-long varints', () => {
    expect(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff])).array((r) => r.int8())).toThrow(
      DecodeError,
    );
    expect(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).uvarint()).toThrow(
      DecodeError,
    );
    expect(() => new Reader(Buffer.alloc(11, 0xff)).uvarlong()).toThrow(DecodeError);
    expect(() => new Reader(Buffer.from([0xff, 0xfe])).nullableString()).toThrow(DecodeError);
  });
});

describe('Writer sized exactly', () => {
  it('takes varints of every width up to its last byte without growing', () => {
    // One of each width (1 to 5 bytes), then a 64-bit one of 10 bytes.
    const values = [0, 0x80, 0x4000, 0x20_0000, 0x1000_0000];
    const writer = new Writer(1 + 2 + 3 + 4 + 5 + 10);
    const capacity = writer.capacity;
    for (const value of values) writer.uvarint(value);
    writer.uvarlong(2n ** 63n);
    expect(writer.offset).toBe(25);
    expect(writer.capacity).toBe(capacity);
    const reader = new Reader(writer.view());
    expect(values.map(() => reader.uvarint())).toEqual(values);
    expect(reader.uvarlong()).toBe(2n ** 63n);
  });
});
