import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from './frame-decoder.js';

function framed(payloads: Buffer[]): Buffer {
  return Buffer.concat(
    payloads.flatMap((payload) => {
      const size = Buffer.alloc(4);
      size.writeInt32BE(payload.length, 0);
      return [size, payload];
    }),
  );
}

describe('FrameDecoder', () => {
  it('reassembles frames from any chunking of the stream', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (payloadArrays, cuts) => {
          const payloads = payloadArrays.map((bytes) => Buffer.from(bytes));
          const stream = framed(payloads);
          const decoder = new FrameDecoder(1024);
          const frames: Buffer[] = [];
          let position = 0;
          let cutIndex = 0;
          while (position < stream.length) {
            const step = cuts[cutIndex++ % cuts.length]!;
            const result = decoder.push(stream.subarray(position, position + step));
            expect(result.kind).toBe('frames');
            frames.push(...result.frames.map((frame) => Buffer.from(frame)));
            position += step;
          }
          expect(frames).toEqual(payloads);
        },
      ),
    );
  });

  it('refuses a frame above the size limit before buffering it', () => {
    const decoder = new FrameDecoder(100);
    const header = Buffer.alloc(4);
    header.writeInt32BE(101, 0);
    const result = decoder.push(header);
    expect(result.kind).toBe('error');
    if (result.kind === 'error') expect(result.reason).toMatch(/exceeds socket.request.max.bytes/);
    expect(decoder.push(Buffer.alloc(1)).kind).toBe('error');
  });

  it('refuses a negative frame size', () => {
    const decoder = new FrameDecoder(100);
    const result = decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xfe]));
    expect(result.kind).toBe('error');
  });

  it('returns the frames completed before the bad size', () => {
    const decoder = new FrameDecoder(100);
    const good = framed([Buffer.from('abc')]);
    const bad = Buffer.alloc(4);
    bad.writeInt32BE(1000, 0);
    const result = decoder.push(Buffer.concat([good, bad]));
    expect(result.kind).toBe('error');
    expect(result.frames.map((frame) => frame.toString())).toEqual(['abc']);
  });
});
