// Splits a TCP byte stream into Kafka frames: INT32 size + `size` bytes.
// A byte-level state machine fed arbitrary chunks, so it is testable without sockets.

export const socketRequestMaxBytesDefault = 100 * 1024 * 1024;

export type FrameDecodeResult =
  | { readonly kind: 'frames'; readonly frames: Buffer[] }
  | { readonly kind: 'error'; readonly reason: string; readonly frames: Buffer[] };

export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private expectedFrameBytes = -1;
  private failed = false;

  constructor(private readonly frameMaxBytes: number = socketRequestMaxBytesDefault) {}

  /** Feeds a chunk; returns every frame it completes. After an error the decoder refuses further input. */
  push(chunk: Buffer): FrameDecodeResult {
    if (this.failed) return { kind: 'error', reason: 'decoder already failed', frames: [] };
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.expectedFrameBytes < 0) {
        if (this.pendingBytes < 4) break;
        const size = this.peekInt32();
        if (size < 0) return this.fail(`negative frame size ${size}`, frames);
        if (size > this.frameMaxBytes) {
          return this.fail(
            `frame of ${size} bytes exceeds socket.request.max.bytes ${this.frameMaxBytes}`,
            frames,
          );
        }
        this.consume(4);
        this.expectedFrameBytes = size;
      }
      if (this.pendingBytes < this.expectedFrameBytes) break;
      frames.push(this.consume(this.expectedFrameBytes));
      this.expectedFrameBytes = -1;
    }
    return { kind: 'frames', frames };
  }

  private fail(reason: string, frames: Buffer[]): FrameDecodeResult {
    this.failed = true;
    this.pending = [];
    this.pendingBytes = 0;
    return { kind: 'error', reason, frames };
  }

  private peekInt32(): number {
    const first = this.pending[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    return Buffer.concat(this.pending, 4).readInt32BE(0);
  }

  /** Removes and returns the next `byteCount` bytes, copying only when they span chunks. */
  private consume(byteCount: number): Buffer {
    if (byteCount === 0) return Buffer.alloc(0);
    const first = this.pending[0]!;
    let result: Buffer;
    if (first.length >= byteCount) {
      result = first.subarray(0, byteCount);
      if (first.length === byteCount) this.pending.shift();
      else this.pending[0] = first.subarray(byteCount);
    } else {
      result = Buffer.allocUnsafe(byteCount);
      let filled = 0;
      while (filled < byteCount) {
        const head = this.pending[0]!;
        const take = Math.min(head.length, byteCount - filled);
        head.copy(result, filled, 0, take);
        filled += take;
        if (take === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(take);
      }
    }
    this.pendingBytes -= byteCount;
    return result;
  }
}
