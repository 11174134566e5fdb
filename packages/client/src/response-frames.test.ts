import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResponseFrameReader } from './response-frames.js';

function framed(payloads: readonly Buffer[]): Buffer {
  return Buffer.concat(
    payloads.flatMap((payload) => {
      const size = Buffer.alloc(4);
      size.writeInt32BE(payload.length, 0);
      return [size, payload];
    }),
  );
}

/** Feeds `stream` in chunks of the sizes in `cuts` (cycled); returns the frames, copied out. */
function readAll(reader: ResponseFrameReader, stream: Buffer, cuts: readonly number[]): Buffer[] {
  const frames: Buffer[] = [];
  let position = 0;
  let cutIndex = 0;
  while (position < stream.length) {
    const step = cuts[cutIndex++ % cuts.length]!;
    const result = reader.push(stream.subarray(position, position + step));
    expect(result.kind).toBe('frames');
    frames.push(...result.frames.map((frame) => Buffer.from(frame)));
    position += step;
  }
  return frames;
}

describe('ResponseFrameReader', () => {
  it('reassembles frames from any chunking of the stream', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 4, maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (payloadArrays, cuts) => {
          const payloads = payloadArrays.map((bytes) => Buffer.from(bytes));
          expect(readAll(new ResponseFrameReader(), framed(payloads), cuts)).toEqual(payloads);
        },
      ),
    );
  });

  it('copies a frame that spans chunks once, however many chunks it comes in', () => {
    const payload = Buffer.alloc(1024 * 1024, 7);
    const reader = new ResponseFrameReader();
    const frames = readAll(reader, framed([payload]), [1024]);
    expect(frames.length).toBe(1);
    expect(frames[0]!.equals(payload)).toBe(true);
    // Appending each chunk to what had arrived copied this frame about 512 times over.
    expect(reader.copiedBytes).toBe(payload.length);
  });

  it('hands on a frame that arrives inside one chunk as a view of it, without copying', () => {
    const chunk = framed([Buffer.from('abcdefgh'), Buffer.from('ijklmnop')]);
    const reader = new ResponseFrameReader();
    const result = reader.push(chunk);
    expect(result.frames.map(String)).toEqual(['abcdefgh', 'ijklmnop']);
    expect(result.frames[0]!.buffer).toBe(chunk.buffer);
    expect(reader.copiedBytes).toBe(0);
  });

  it('refuses a frame size below a correlation id or above the limit, and all input after it', () => {
    const reader = new ResponseFrameReader(100);
    const good = framed([Buffer.from('1234')]);
    const tooBig = Buffer.alloc(4);
    tooBig.writeInt32BE(101, 0);
    const result = reader.push(Buffer.concat([good, tooBig]));
    expect(result).toEqual({
      kind: 'error',
      reason: 'bad response frame size 101',
      frames: [Buffer.from('1234')],
    });
    expect(reader.push(good).kind).toBe('error');
    const tiny = Buffer.alloc(4);
    tiny.writeInt32BE(3, 0);
    expect(new ResponseFrameReader().push(tiny)).toMatchObject({
      kind: 'error',
      reason: 'bad response frame size 3',
    });
  });
});
