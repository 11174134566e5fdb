// Splits a connection's byte stream into response frames: INT32 size + `size` bytes. A byte-level
// state machine fed the socket's chunks, testable without sockets (the broker's FrameDecoder reads
// requests the same way).
//
// Each byte is copied at most once: a frame that arrives inside one chunk is a view of that chunk,
// and a frame that spans chunks is copied into one buffer of its size as its chunks arrive. Until
// 2026-12-07 the connection appended each chunk to what it held (Buffer.concat), which copied a
// frame of n chunks about n/2 times over: a 1 MiB Fetch response in 64 KiB chunks was copied 8
// times, a 10 MiB one 80 times, and that copying was the consumer's hottest frame.

/** Largest response frame accepted. */
export const responseFrameMaxBytes = 256 * 1024 * 1024;
const sizeHeaderBytes = 4;

export type ResponseFramesResult =
  | { readonly kind: 'frames'; readonly frames: Buffer[] }
  | { readonly kind: 'error'; readonly reason: string; readonly frames: Buffer[] };

export class ResponseFrameReader {
  /** The start of a size header that spans chunks. */
  private readonly header = Buffer.alloc(sizeHeaderBytes);
  private headerBytes = 0;
  /** The frame being filled, once its size is known and its first chunk did not hold all of it. */
  private body: Buffer | undefined;
  private bodyFilledBytes = 0;
  private failed = false;
  private copied = 0;

  constructor(private readonly frameMaxBytes = responseFrameMaxBytes) {}

  /** Bytes copied into frames so far (a frame inside one chunk costs none). */
  get copiedBytes(): number {
    return this.copied;
  }

  /** Feeds a chunk; returns every frame it completes. After an error it refuses further input. */
  push(chunk: Buffer): ResponseFramesResult {
    if (this.failed) return { kind: 'error', reason: 'frame reader already failed', frames: [] };
    const frames: Buffer[] = [];
    let position = 0;
    while (position < chunk.length) {
      if (this.body !== undefined) {
        const taken = Math.min(chunk.length - position, this.body.length - this.bodyFilledBytes);
        chunk.copy(this.body, this.bodyFilledBytes, position, position + taken);
        this.copied += taken;
        this.bodyFilledBytes += taken;
        position += taken;
        if (this.bodyFilledBytes < this.body.length) break;
        frames.push(this.body);
        this.body = undefined;
        continue;
      }
      let size: number;
      if (this.headerBytes === 0 && chunk.length - position >= sizeHeaderBytes) {
        size = chunk.readInt32BE(position);
        position += sizeHeaderBytes;
      } else {
        const taken = Math.min(chunk.length - position, sizeHeaderBytes - this.headerBytes);
        chunk.copy(this.header, this.headerBytes, position, position + taken);
        this.headerBytes += taken;
        position += taken;
        if (this.headerBytes < sizeHeaderBytes) break;
        this.headerBytes = 0;
        size = this.header.readInt32BE(0);
      }
      // A response holds at least its correlation id.
      if (size < 4 || size > this.frameMaxBytes) {
        this.failed = true;
        this.body = undefined;
        return { kind: 'error', reason: `bad response frame size ${size}`, frames };
      }
      if (chunk.length - position >= size) {
        frames.push(chunk.subarray(position, position + size));
        position += size;
      } else {
        this.body = Buffer.allocUnsafe(size);
        this.bodyFilledBytes = 0;
      }
    }
    return { kind: 'frames', frames };
  }
}
