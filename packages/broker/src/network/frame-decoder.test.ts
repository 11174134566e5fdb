import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from './frame-decoder.js';
import { RequestMemoryPool, requestMemoryUnbounded } from './request-memory-pool.js';

const unbounded = () => new RequestMemoryPool(requestMemoryUnbounded);

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
          const memory = new RequestMemoryPool(1024);
          const decoder = new FrameDecoder(1024, memory);
          const frames: Buffer[] = [];
          let position = 0;
          let cutIndex = 0;
          while (position < stream.length) {
            const step = cuts[cutIndex++ % cuts.length]!;
            const result = decoder.push(stream.subarray(position, position + step));
            expect(result.kind).toBe('frames');
            frames.push(...result.frames.map((frame) => Buffer.from(frame)));
            for (const frame of result.frames) memory.release(frame.length);
            position += step;
          }
          expect(frames).toEqual(payloads);
          // The caller released every completed frame; nothing else stays reserved.
          expect(memory.reservedBytes).toBe(0);
        },
      ),
    );
  });

  it('refuses a frame above the size limit before buffering it', () => {
    const decoder = new FrameDecoder(100, unbounded());
    const header = Buffer.alloc(4);
    header.writeInt32BE(101, 0);
    const result = decoder.push(header);
    expect(result.kind).toBe('error');
    if (result.kind === 'error') expect(result.reason).toMatch(/exceeds socket.request.max.bytes/);
    expect(decoder.push(Buffer.alloc(1)).kind).toBe('error');
  });

  it('applies a lower limit while one is in force (sasl.server.max.receive.size before authentication)', () => {
    let authenticated = false;
    const decoder = new FrameDecoder(1000, unbounded(), () =>
      authenticated ? undefined : { bytes: 10, key: 'sasl.server.max.receive.size' },
    );
    expect(decoder.push(framed([Buffer.alloc(10)])).frames).toHaveLength(1);
    authenticated = true;
    expect(decoder.push(framed([Buffer.alloc(500)])).frames).toHaveLength(1);
    authenticated = false;
    expect(decoder.push(framed([Buffer.alloc(11)]))).toMatchObject({
      kind: 'error',
      reason: 'frame of 11 bytes exceeds sasl.server.max.receive.size 10',
    });
  });

  it('refuses a negative frame size', () => {
    const decoder = new FrameDecoder(100, unbounded());
    const result = decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xfe]));
    expect(result.kind).toBe('error');
  });

  it('returns the frames completed before the bad size', () => {
    const decoder = new FrameDecoder(100, unbounded());
    const good = framed([Buffer.from('abc')]);
    const bad = Buffer.alloc(4);
    bad.writeInt32BE(1000, 0);
    const result = decoder.push(Buffer.concat([good, bad]));
    expect(result.kind).toBe('error');
    expect(result.frames.map((frame) => frame.toString())).toEqual(['abc']);
  });

  it('reserves the full claimed size from the size header on, before the body arrives', () => {
    const memory = new RequestMemoryPool(1000);
    const decoder = new FrameDecoder(1000, memory);
    const header = Buffer.alloc(4);
    header.writeInt32BE(600, 0);
    expect(decoder.push(header)).toEqual({ kind: 'frames', frames: [] });
    expect(memory.reservedBytes).toBe(600);
    expect(decoder.partialFrameReservedBytes).toBe(600);
    decoder.push(Buffer.alloc(100, 1));
    expect(memory.reservedBytes).toBe(600);
    const done = decoder.push(Buffer.alloc(500, 2));
    expect(done.frames.map((frame) => frame.length)).toEqual([600]);
    // The completed frame's reservation is now the caller's to release.
    expect(decoder.partialFrameReservedBytes).toBe(0);
    expect(memory.reservedBytes).toBe(600);
  });

  it('releases a partial frame when the connection closes', () => {
    const memory = new RequestMemoryPool(1000);
    const decoder = new FrameDecoder(1000, memory);
    decoder.push(Buffer.concat([framed([Buffer.from('done')]), Buffer.from([0, 0, 3, 0]), Buffer.alloc(10)]));
    expect(memory.reservedBytes).toBe(4 + 768);
    decoder.close();
    expect(memory.reservedBytes).toBe(4);
    expect(decoder.push(Buffer.alloc(10)).frames).toEqual([]);
  });

  it('releases a partial frame when a later size is bad', () => {
    const memory = new RequestMemoryPool(1000);
    const decoder = new FrameDecoder(1000, memory);
    decoder.push(Buffer.from([0, 0, 0, 10, 1, 2]));
    expect(memory.reservedBytes).toBe(10);
    decoder.close();
    expect(memory.reservedBytes).toBe(0);
  });

  it('waits for memory without losing bytes, and continues once memory is released', () => {
    const memory = new RequestMemoryPool(100);
    expect(memory.tryReserve(70)).toBe(true); // another connection's request
    const decoder = new FrameDecoder(100, memory);
    const stream = framed([Buffer.alloc(50, 7), Buffer.from('next')]);
    const blocked = decoder.push(stream.subarray(0, 20));
    expect(blocked).toEqual({ kind: 'frames', frames: [], waitingForMemoryBytes: 50 });
    expect(memory.reservedBytes).toBe(70);
    // Bytes already read while waiting are kept, not reserved and not lost.
    expect(decoder.push(stream.subarray(20, 30)).kind).toBe('frames');
    memory.release(70);
    expect(decoder.push(Buffer.alloc(0))).toEqual({ kind: 'frames', frames: [] });
    expect(memory.reservedBytes).toBe(50);
    const rest = decoder.push(stream.subarray(30));
    expect(rest.frames.map((frame) => frame.toString('hex'))).toEqual([
      Buffer.alloc(50, 7).toString('hex'),
      Buffer.from('next').toString('hex'),
    ]);
    expect(memory.reservedBytes).toBe(54);
  });

  it('refuses a frame above socket.request.max.bytes without reserving it', () => {
    const memory = new RequestMemoryPool(1000);
    const decoder = new FrameDecoder(100, memory);
    expect(decoder.push(Buffer.from([0, 0, 0, 101])).kind).toBe('error');
    expect(memory.reservedBytes).toBe(0);
  });

  it('hands out a frame that arrived in one chunk as a view of that chunk', () => {
    const decoder = new FrameDecoder(100, unbounded());
    const chunk = framed([Buffer.from('abc'), Buffer.from('de')]);
    const result = decoder.push(chunk);
    expect(result.frames.map((frame) => frame.buffer === chunk.buffer)).toEqual([true, true]);
  });
});
